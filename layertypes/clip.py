"""From Clip: the motion of a reference clip (a video or a folder of images) of the real thing."""

from .declare import LayerType, Param
from .shared import COMMON, PHASE_FRAMES
from .sway import SPECTRUM

SWAYING = ("motion", "oscillation")
PREDICTING = ("method", "predict")

LAYER = LayerType(
    "clip", "From Clip",
    "The motion of a reference clip (a video or a folder of images) of the real thing", "FILE_MOVIE",
    motion="any", one_of=("clip", "clip_array"),
    params=COMMON + (
        Param("clip", "path", "Clip", blender="clip_path",
              help="A video file, a folder of images or a glob pattern (read with OpenCV, up to 300 frames, at "
                   "least 3); relative to the job file"),
        Param("clip_array", "array", "Clip Array",
              help="Protocol only: the name of an (N, H, W, 3) uint8 array sent with the job, instead of `clip`"),
        Param("motion", "choice", "Clip Motion", default="fluid", blender="clip_motion", choices=(
            ("fluid", "Flowing", "The clip flows (water, smoke): its optical flow (OpenCV DIS) drives a flowing "
                                 "loop"),
            ("oscillation", "Swaying", "The clip sways (a tree, a flag): its trajectories' spectrum drives a sway "
                                       "(amplitude, direction and per-term powers come from the clip)"),
            ("flicker", "Flickering", "The clip's light changes (fire, a lamp): once its motion is taken out, the "
                                      "spectrum of its brightness drives a flicker (amount, rate and scale come "
                                      "from the clip)")),
            help="How the clip moves"),
        Param("method", "choice", "Use", default="stats", blender="clip_method", shown_if=("motion", "fluid"),
              choices=(
                  ("stats", "Speed and Direction", "The clip's mean velocity, everywhere in the mask"),
                  ("predict", "Learned from Looks", "A small network trained on the clip's frames against their "
                                                    "flow predicts the still's flow from its appearance"),
                  ("aligned", "The Clip's Own Flow", "The still is a (painted-over) frame of the clip: the clip's "
                                                     "mean flow field, registered onto the still (ECC); a clip of "
                                                     "another aspect is stretched, and the metadata says so")),
              help="For flowing clips, what is taken from the clip (a swaying clip always gives its spectrum)"),
        Param("model", "path", "Model File", suffix=".pt", shown_if=PREDICTING,
              help="Where the trained predictor is saved (with a .loss.png plot of its training loss) and loaded "
                   "from next time; loading reads weights only, never code. Blender: next to the .blend when empty"),
        Param("reuse_model", "switch", "Reuse Trained Model", default=True, shown_if=PREDICTING,
              help="Load the model file when it exists instead of training again (turn off after changing the "
                   "clip)"),
        Param("train_seconds", "number", "Training Time", default=30.0, low=0.0, high=3600.0, soft_high=600.0,
              unit="seconds", shown_if=PREDICTING, help="Seconds to train the predictor on the clip"),
        PHASE_FRAMES) + tuple(Param(**{**vars(param), "shown_if": SWAYING}) for param in SPECTRUM))
