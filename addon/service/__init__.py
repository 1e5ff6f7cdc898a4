"""The backend as a process: starting it, its framed protocol, one job at a time in a worker thread, installing its
environment."""
