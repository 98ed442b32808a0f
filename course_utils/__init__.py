"""nlp-course-companion: tested helpers behind the chapter 7 notebooks of the Hugging Face course.

Nothing heavy is imported here, so that `course_utils.profiles.activate()` can set the
Hugging Face environment switches before `transformers` or `datasets` is first imported.
"""
__version__ = "0.1.0"
