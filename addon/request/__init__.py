"""From a plane's settings and the guides drawn over it to the job the backend is asked to compute."""
