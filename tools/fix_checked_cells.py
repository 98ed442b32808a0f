"""Give stored outputs of `# NBVAL_CHECK_OUTPUT` cells an execution count (nbval treats a cell with
outputs but no count as 'unrun' and fails it). Usage: python tools/fix_checked_cells.py notebooks/*.ipynb"""
import json
import sys

for path in sys.argv[1:]:
    nb = json.load(open(path))
    changed = 0
    for i, cell in enumerate(nb["cells"], 1):
        if cell["cell_type"] == "code" and cell.get("outputs") and cell.get("execution_count") is None:
            cell["execution_count"] = i
            for out in cell["outputs"]:
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = i
            changed += 1
    if changed:
        with open(path, "w") as fh:
            json.dump(nb, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    print(path, "fixed", changed)
