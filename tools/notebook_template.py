# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nlp-course-companion/nlp-course-companion/blob/main/notebooks/NN_name.ipynb)
#
# # NN · Title in the course's words
#
# One paragraph: which step of the course this is, what the learner will have at the end.

# %% tags=["parameters"]
# Parameters (papermill can override any of these: `-p profile ci`).
profile = "auto"        # "ci" (seconds), "workshop" (offline laptop), "course" (GPU + Hub), "auto"
output_dir = None       # hand-over folder shared by the notebooks (None: runs/workspace-<profile>)
seed = 42
push_to_hub = False
# Track-specific knobs: None keeps the profile's value.
clm_corpus_source = None

# %%
# Setup. On Colab this installs the course package (Colab's own torch is kept); elsewhere it
# installs nothing. Then the profile sets the offline switches *before* any HF import.
import subprocess, sys
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "nlp-course-companion @ git+https://github.com/nlp-course-companion/nlp-course-companion"],
                   check=True)

from course_utils.profiles import activate
from course_utils.workspace import workspace
cfg = activate(profile, seed=seed, clm_corpus_source=clm_corpus_source)
work = workspace(output_dir, cfg.name)
print(f"profile={cfg.name} offline={cfg.offline} workspace={work}")  # NBVAL_IGNORE_OUTPUT
