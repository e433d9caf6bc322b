"""latentbench: the command line and the pieces shared by every stage (errors, small utilities)."""
