"""The baked motion written out for other programs, used by the panel's export buttons and the command line:
ST-maps (stmap.py), a game engine's flow map (flowmap.py), motion-vector EXRs (motion_vectors.py)."""
