"""What the user sets: the properties on an object and its layers (built from layertypes/), and whether the bake
still matches them."""
