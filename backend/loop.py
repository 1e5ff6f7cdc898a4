"""How a flowing layer's loop is made from its lookups: staggered restarts of one flow, mixed so that every moment of
the loop is as sharp as the still. Pure Python: the backend, the add-on's shader and the reference render all
take the loop from here (the shader rebuilds `phase` with math nodes; a test holds it to the reference render).

A flowing layer is N streams ("phases") of the same flow. Each stream shows the still image carried along the
flow for an age that runs from -P/2 to +P/2 frames and then restarts; the streams are staggered by P/N frames and
weighted by sin^2 windows over their age, which sum to one at every moment and are zero at each restart, so no
restart is seen (flow maps in real-time graphics do the same with two phases). P divides the loop length T and
the schedule depends on the clock modulo T, so frame T is frame 0 exactly. A stream never travels more than P/2 frames
of motion, so nothing streaks; P is the artist's "phase period". The picture repeats every P frames. (Centring
each of the T/P cycles on another age, so that only the whole loop repeats, was measured: on the lake sample it
made the frame-to-frame change pulse with the cycles, CV 0.04-0.08 against 0.015, so it is not done.)

Mixing N displaced copies would soften the picture (a double exposure). The colours are mixed in a display-like
space (gamma 2.2) in two bands: the low band (the picture blurred by `LOW_BAND_SIGMA`) is averaged with the
weights, the high band (picture minus low band) is averaged and divided by sqrt(sum_ij w_i w_j rho_ij), with rho
the high band's correlation between two copies `d` source pixels apart (`correlation`): the variance-preserving
blend of Heitz and Neyret (2018). Where the copies coincide (outside the mask) rho is 1 and the mix is exactly the
still picture.
"""

import math

PHASES = 3
GAMMA = 2.2
# Preferred phase period in frames (about a second): long enough to read as flow, short enough not to streak.
PREFERRED_PERIOD = 30
# The low band's blur, as a share of the picture's width (3 px on a 1280 px picture), at least 1.5 px.
LOW_BAND_SIGMA = 3.0 / 1280.0
MIN_LOW_BAND_SIGMA_PX = 1.5


def layer_period(loop_frames, values):
    """P of a flowing layer from its job values (dict form, as sent or as checked)."""
    return phase_period(loop_frames, values.get("phase_frames") or 0)


def phase_period(loop_frames, requested=0):
    """P: the requested period when it divides the loop, else the divisor of T nearest PREFERRED_PERIOD (at least
    6 frames when the loop has one, so the phases can be staggered)."""
    if requested:
        if loop_frames % requested:
            raise ValueError(f"a phase period of {requested} frames does not divide the loop of {loop_frames}")
        return requested
    divisors = [d for d in range(1, loop_frames + 1) if loop_frames % d == 0]
    usable = [d for d in divisors if d >= 6] or [loop_frames]
    return min(usable, key=lambda d: (abs(math.log(d / PREFERRED_PERIOD)), -d))


def half_span(period):
    """H: stream ages run from -H to +H frames; lookups are stored for every whole age in that range."""
    return math.ceil(period / 2)


def phase(clock, index, period, phases=PHASES):
    """(age, weight) of stream `index` when the layer's clock reads `clock` frames: the age in frames (-P/2..P/2,
    fractional when the clock is) and its share of the mix (the N shares sum to 1)."""
    position = (clock + index * period / phases) % period
    return position - period / 2, (2.0 / phases) * math.sin(math.pi * position / period) ** 2


# The high band's correlation at a distance of q low-band sigmas: a Gaussian core and a slow tail. Measured on
# the sample photographs (a waterfall's streaks, cirrus, lake ripples), the core alone would call copies 8-20 px
# apart unrelated where 0.1-0.2 of their detail still agrees, and the mix would come out sharper than the still.
CORE_SHARE = 0.8
TAIL_SIGMAS = 6.0


def correlation(q):
    """rho at a distance of q low-band sigmas (1 at q = 0)."""
    return CORE_SHARE * math.exp(-q * q) + (1 - CORE_SHARE) * math.exp(-q / TAIL_SIGMAS)


def low_band_sigma(image_width):
    """The low band's blur in source pixels for a picture this wide."""
    return max(MIN_LOW_BAND_SIGMA_PX, LOW_BAND_SIGMA * image_width)
