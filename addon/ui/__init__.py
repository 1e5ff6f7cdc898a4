"""What the user sees besides the baked picture: the sidebar panel and the flow overlay in the viewport."""
