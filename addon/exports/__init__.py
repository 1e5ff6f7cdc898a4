"""The baked motion written out for other programs, used by the panel's export button and the command line:
ST-maps (stmap.py)."""
