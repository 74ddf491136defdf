"""axe-core (the npm package) run in a page: the serious and critical violations it finds."""

from __future__ import annotations

from typing import Any

from tests.support.npm import npm_packages

AXE = "axe-core@4.10.2"


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(npm_packages(AXE) / "node_modules" / "axe-core" / "axe.min.js"))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']}: {v['help']} ({' '.join(v['nodes'][0]['target'])})"
            for v in found if v["impact"] in ("serious", "critical")]
