"""Interactive §7 demos (ipywidgets), each with a printed fallback for papermill / nbval / scripts.

* `window_explorer`: ``max_length`` and ``stride`` sliders redraw the windows of one example and
  their labels, so a learner sees how many windows a context needs and when the answer falls
  between two of them.
"""
from __future__ import annotations

from typing import Any

from ..viz import widgets_available
from .viz import example_windows, windows_html, windows_text

__all__ = [
    "window_explorer",
    "answer_html",
    "answer_text",
    "qa_box",
]


def window_explorer(tokenizer: Any, example: dict, max_length: int = 100, stride: int = 50,
                    interactive: bool | None = None) -> Any:
    """Sliders for ``max_length`` / ``stride`` over one `squad`-schema example.

    ``interactive=None`` decides with `widgets_available`; without widgets the windows for the given
    sizes are printed once (and the same text is returned).
    """
    question, context = example["question"], example["context"]
    text, start = example["answers"]["text"][0], example["answers"]["answer_start"][0]

    def summary(ml: int, st: int) -> tuple[list, str]:
        windows = example_windows(tokenizer, question, context, text, start, ml, st)
        labelled = sum(w.has_answer for w in windows)
        head = (f"max_length={ml}, stride={st}: {len(windows)} window(s), "
                f"{labelled} with the answer labelled, {len(windows) - labelled} labelled (0, 0)")
        return windows, head

    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        windows, head = summary(max_length, stride)
        out = head + "\n" + windows_text(windows, context)
        print(out)
        return out

    import ipywidgets as W
    from IPython.display import HTML, display

    ml = W.IntSlider(value=max_length, min=24, max=512, step=4, description="max_length", continuous_update=False)
    st = W.IntSlider(value=stride, min=0, max=max_length - 1, step=2, description="stride", continuous_update=False)
    out = W.Output()

    def redraw(*_: Any) -> None:
        st.max = ml.value - 1
        with out:
            out.clear_output(wait=True)
            try:
                windows, head = summary(ml.value, min(st.value, ml.value - 1))
            except ValueError as err:  # e.g. the question leaves no room for this stride
                print(f"⚠ {err}")
                return
            print(head)
            display(HTML(windows_html(windows, context, start, text)))

    ml.observe(redraw, names="value")
    st.observe(redraw, names="value")
    redraw()
    box = W.VBox([W.HTML(f"<b>Q:</b> {question} &nbsp; <b>A:</b> {text}"), W.HBox([ml, st]), out])
    display(box)
    return box


# --------------------------------------------------------------------------------------------
# 10 · Using the fine-tuned model: a question-answering box
# --------------------------------------------------------------------------------------------
def answer_html(context: str, answers: list[dict], max_chars: int = 4000) -> str:
    """The context with the best answer highlighted (and its score); the other candidates listed."""
    import html

    if not answers:
        return "<i>no answer found</i>"
    best = answers[0]
    s, e = int(best["start"]), int(best["end"])
    shown = (html.escape(context[:s]) + f'<mark style="background:#b7f0b1">{html.escape(context[s:e])}</mark>'
             + html.escape(context[e:]))
    if len(context) > max_chars:
        shown = shown[:max_chars] + "…"
    rows = "".join(f"<li>{html.escape(a['answer'])!s} <small>({a['score']:.3f})</small></li>" for a in answers)
    return (f"<p><b>Answer:</b> {html.escape(best['answer'])} <small>(score {best['score']:.3f}, "
            f"characters {s}–{e})</small></p><p style='line-height:1.5'>{shown}</p><ol>{rows}</ol>")


def answer_text(context: str, answers: list[dict], width: int = 100) -> str:
    """Plain-text version of `answer_html`: the answer in [[double brackets]] inside its sentence."""
    if not answers:
        return "no answer found"
    best = answers[0]
    s, e = int(best["start"]), int(best["end"])
    left, right = max(0, s - width // 2), min(len(context), e + width // 2)
    snippet = ("…" if left else "") + context[left:s] + "[[" + context[s:e] + "]]" + context[e:right] + (
        "…" if right < len(context) else "")
    lines = [f"answer: {best['answer']!r} (score {best['score']:.3f}, characters {s}-{e})", snippet]
    lines += [f"  {i + 1}. {a['answer']!r} ({a['score']:.3f})" for i, a in enumerate(answers[1:], start=1)]
    return "\n".join(lines)


def qa_box(question_answerer: Any, context: str, question: str, top_k: int = 3,
           max_answer_len: int = 30, interactive: bool | None = None) -> Any:
    """Paste a context, ask a question, see the answer highlighted with its score.

    ``question_answerer`` is the pipeline of notebook 10. Without widgets (papermill, nbval, a
    script) the answer for the given context and question is printed once and returned.
    """
    def ask(q: str, c: str, k: int) -> list[dict]:
        result = question_answerer(question=q, context=c, top_k=k, max_answer_len=max_answer_len)
        return result if isinstance(result, list) else [result]

    if interactive is None:
        interactive = widgets_available()
    if not interactive:
        text = answer_text(context, ask(question, context, top_k))
        print(text)
        return text

    import ipywidgets as W
    from IPython.display import HTML, display

    ctx = W.Textarea(value=context, description="context", layout=W.Layout(width="95%", height="140px"))
    q = W.Text(value=question, description="question", layout=W.Layout(width="95%"))
    k = W.IntSlider(value=top_k, min=1, max=10, description="top_k", continuous_update=False)
    button = W.Button(description="Ask", button_style="primary")
    out = W.Output()

    def run(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            try:
                display(HTML(answer_html(ctx.value, ask(q.value, ctx.value, k.value))))
            except ValueError as err:  # empty context or question, question too long ...
                print(f"⚠ {err}")

    button.on_click(run)
    q.on_submit(run) if hasattr(q, "on_submit") else None
    run()
    box = W.VBox([ctx, q, W.HBox([k, button]), out])
    display(box)
    return box
