"""Analysis: pure functions over pandas tables read from the results store (never imports torch)."""
