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
            ("oscillation", "Swaying", "The clip sways (a tree, blossom): the spectrum of its tracked points "
                                       "drives a sway (amplitude, direction and per-term powers come from the "
                                       "clip); a clip that flows is refused"),
            ("flicker", "Flickering", "The clip's light changes (fire, a lamp): once its motion is taken out, the "
                                      "spectrum of its brightness drives a flicker (amount, rate and scale come "
                                      "from the clip)")),
            help="How the clip moves"),
        Param("method", "choice", "Use", default="stats", blender="clip_method", shown_if=("motion", "fluid"),
              choices=(
                  ("stats", "Speed and Direction", "The mean velocity of the clip's moving region (or of "
                                                    "clip_mask), everywhere in the mask"),
                  ("predict", "Learned from Looks", "A small network trained on the clip's frames against their "
                                                    "flow predicts the still's flow from its appearance"),
                  ("aligned", "The Clip's Own Flow", "The still is a (painted-over) frame of the clip: the clip's "
                                                     "mean flow field, registered onto the still (ECC); a clip of "
                                                     "another aspect is scaled alike in x and y to cover the "
                                                     "still, and the metadata says so")),
              help="For flowing clips, what is taken from the clip (a swaying clip always gives its spectrum)"),
        Param("clip_mask", "mask", "Clip Region", on_clip=True,
              help="The part of the clip to learn from, on the clip: a rectangle in the clip's UV space (v up), a "
                   "grey-scale image or an array of the clip's aspect; its moving part gives the motion. When "
                   "absent, the clip's own moving region, found automatically (distinct from the still's mask)"),
        Param("model", "path", "Model File", suffix=".pt", shown_if=PREDICTING,
              help="Where the trained predictor is saved (with a .loss.png plot of its training loss) and loaded "
                   "from next time, if it was trained on the same clip with the same steps and seed (a hash in the "
                   "file says so; otherwise it is trained again); loading reads weights only, never code. Blender: "
                   "next to the .blend when empty"),
        Param("reuse_model", "switch", "Reuse Trained Model", default=True, shown_if=PREDICTING,
              help="Load the model file when it was trained on this clip with these settings, instead of training "
                   "again"),
        Param("train_steps", "whole", "Training Steps", default=300, low=1, high=100000, soft_high=3000,
              shown_if=PREDICTING,
              help="Training steps of the predictor (batches of 16 patches): the same clip, steps and seed give the "
                   "same model on any machine, however busy"),
        Param("train_seed", "whole", "Training Seed", default=0, low=0, high=2 ** 31 - 1, shown_if=PREDICTING,
              help="Seed of the predictor's training (its first weights and the patches it sees)"),
        Param("train_seconds", "number", "Training Time (old)", low=0.0, high=3600.0, unit="seconds", old=True,
              help="Deprecated, for old job files: when given, it replaces train_steps at 10 steps a second"),
        PHASE_FRAMES) + tuple(Param(**{**vars(param), "shown_if": SWAYING}) for param in SPECTRUM))
