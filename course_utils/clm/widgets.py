"""An interactive code-completion box for notebook 04 (prompt, max new tokens, temperature, top-k).

Where widgets cannot render (papermill, nbval, a terminal, the quiet ci profile) it prints the
completion of the starting prompt instead, so an executed notebook always shows a result.
"""
from __future__ import annotations

from typing import Any

from ..viz import widgets_available
from .generate import complete

__all__ = ["widgets_available", "completion_box"]


def completion_box(
    pipe: Any,
    prompt: str = "# create some data\nx = np.random.randn(100)\ny = np.random.randn(100)\n\n# create scatter plot with x, y\n",
    *,
    max_new_tokens: int = 32,
    temperature: float = 0.0,
    top_k: int = 50,
    one_line: bool = False,
    force_text: bool = False,
) -> Any:
    """Show the box (or print one completion). Temperature 0 means greedy decoding.

    Returns the ``ipywidgets.VBox`` when widgets render, else the printed completion.
    """
    def run(p: str, n: int, t: float, k: int, line: bool) -> str:
        return complete(pipe, p, max_new_tokens=n, temperature=t, top_k=k, one_line=line)

    if force_text or not widgets_available():
        text = run(prompt, max_new_tokens, temperature, top_k, one_line)
        print(prompt + text)
        return text

    import ipywidgets as w
    from IPython.display import display

    box_prompt = w.Textarea(value=prompt, layout=w.Layout(width="100%", height="9em"), description="prompt")
    n_tokens = w.IntSlider(value=max_new_tokens, min=1, max=128, description="max tokens")
    temp = w.FloatSlider(value=temperature, min=0.0, max=1.5, step=0.05, description="temperature")
    k = w.IntSlider(value=top_k, min=1, max=200, description="top-k")
    line = w.Checkbox(value=one_line, description="stop at end of line")
    button = w.Button(description="Complete", button_style="primary")
    out = w.Output(layout=w.Layout(border="1px solid #ccc", padding="4px"))

    def on_click(_: Any) -> None:
        out.clear_output()
        with out:
            try:
                text = run(box_prompt.value, n_tokens.value, temp.value, k.value, line.value)
            except ValueError as err:  # empty prompt, ...: say so instead of a traceback
                print(f"cannot complete: {err}")
                return
            print(box_prompt.value, end="")
            print(f"\x1b[1;32m{text}\x1b[0m")  # the model's part in green

    button.on_click(on_click)
    ui = w.VBox([box_prompt, w.HBox([n_tokens, temp]), w.HBox([k, line, button]), out])
    display(ui)
    on_click(None)
    return ui
