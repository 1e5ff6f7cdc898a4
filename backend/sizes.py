"""A picture's size fitted under a longest side, kept in proportion. Plain Python: both sides use it."""


def fit_longest(width, height, longest, enlarge=False, least=1):
    """(width, height) scaled so that the longer side is `longest` (never larger than given unless `enlarge`),
    each side at least `least` pixels."""
    scale = longest / max(width, height)
    if not enlarge:
        scale = min(1.0, scale)
    return max(least, round(width * scale)), max(least, round(height * scale))
