"""The bottom layer every other package may import: user errors (errors.py), the seeding scheme
(seeding.py) and provenance (provenance.py). It imports nothing of the project; the CLI (bench/) sits on
top of everything and nothing imports it."""
