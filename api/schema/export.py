"""Export the schema as SDL: ``python -m api.schema.export`` rewrites ``api/schema.graphql``.

A test fails when the file and the code disagree, so the exported schema never drifts.
"""

from __future__ import annotations

from pathlib import Path

from api.schema.build import build_schema

SDL_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"


def schema_sdl() -> str:
    """The schema's SDL, as exported."""
    return build_schema().as_str().rstrip("\n") + "\n"


def main() -> None:
    SDL_PATH.write_text(schema_sdl(), encoding="utf-8")
    print(f"wrote {SDL_PATH}")


if __name__ == "__main__":
    main()
