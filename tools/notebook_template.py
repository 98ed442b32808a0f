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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nlp-course-companion/nlp-course-companion/blob/main/notebooks/NN_name.ipynb) [![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)](https://kaggle.com/kernels/welcome?src=https://github.com/nlp-course-companion/nlp-course-companion/blob/main/notebooks/NN_name.ipynb)
#
# # NN · Title in the course's words
#
# One paragraph: which step of the course this is, what the learner will have at the end.
#
# **In the course:** [§6 in English](https://huggingface.co/learn/llm-course/chapter7/6) · [§6 日本語版](https://huggingface.co/learn/llm-course/ja/chapter7/6) · [video: …](https://www.youtube.com/watch?v=…)
# (`tools/update_headers.py` writes the badges, this line and the install lines from `course_utils.platforms`.)

# %% tags=["parameters"]
# Parameters (papermill can override any of these: `-p profile ci`).
profile = "auto"        # "ci" (seconds), "workshop" (offline laptop), "colab" (one T4 + Hub), "course" (big GPU), "auto"
output_dir = None       # hand-over folder shared by the notebooks (None: runs/workspace-<profile>; on Colab, Drive when mounted)
seed = 42
push_to_hub = False
# Track-specific knobs: None keeps the profile's value.
clm_corpus_source = None

# %%
# Setup. On Colab or Kaggle this installs the course package (their own torch is kept; on Kaggle,
# switch Internet on in the notebook's settings first); elsewhere it installs nothing. Then the
# profile sets the offline switches *before* any HF import.
import os, subprocess, sys
if "google.colab" in sys.modules or os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "nlp-course-companion @ git+https://github.com/nlp-course-companion/nlp-course-companion"],
                   check=True)

from course_utils.profiles import activate
from course_utils.workspace import shown_path, workspace
cfg = activate(profile, seed=seed, clm_corpus_source=clm_corpus_source)
work = workspace(output_dir, cfg.name)
print(f"profile={cfg.name} offline={cfg.offline} workspace={shown_path(work)}")  # NBVAL_IGNORE_OUTPUT
