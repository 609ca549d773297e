"""Text checks that code does better than a model: date phrases resolved against a publication
date (`dates`), numbers found in words and digits (`numbers`), quotes located by character
offsets (`evidence`). Pure functions over strings, with property tests."""
