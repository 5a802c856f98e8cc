"""The quote card's layout: `quote_card.toml` from the template folders (a
user's first, then the bundled one), read into a checked model. Sizes per
platform, colours, fonts, logo and margins are the user's to edit."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PIL import ImageColor
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scheduler.errors import MediaError

FILE = "quote_card.toml"
FONTS = Path(__file__).resolve().parent / "fonts"
MIN_SIZE = (600, 300)
MAX_SIDE = 4096


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Colours(_Part):
    background: str = "#10243e"
    quote: str = "#ffffff"
    attribution: str = "#a9c8ee"
    accent: str = "#f2b134"

    @field_validator("*")
    @classmethod
    def _colour(cls, value: str) -> str:
        try:
            ImageColor.getrgb(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a colour (use #rrggbb or a CSS name)") from None
        return value


class Text(_Part):
    font: str = ""
    bold_font: str = ""
    max_size: int = Field(64, ge=8, le=400)
    min_size: int = Field(22, ge=8, le=400)
    attribution_size: int = Field(30, ge=8, le=400)
    line_spacing: float = Field(1.25, ge=1.0, le=3.0)
    outlet: str = ""


class Logo(_Part):
    file: str = ""
    height: int = Field(64, ge=8, le=1000)


class Margins(_Part):
    padding: int = Field(64, ge=0, le=1000)


class CardLayout(_Part):
    size: dict[str, tuple[int, int]] = Field(default_factory=lambda: {"default": (1200, 675)})
    colours: Colours = Field(default_factory=Colours)
    text: Text = Field(default_factory=Text)
    logo: Logo = Field(default_factory=Logo)
    margins: Margins = Field(default_factory=Margins)
    #: The folder relative paths are read from.
    folder: Path = Path(".")

    @field_validator("size")
    @classmethod
    def _sizes(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for name, (width, height) in value.items():
            if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
                raise ValueError(f"{name} is {width}x{height}; cards are at least 600x300")
            if max(width, height) > MAX_SIDE:
                raise ValueError(f"{name} is {width}x{height}; at most {MAX_SIDE} on a side")
        return value

    def size_for(self, platform: str) -> tuple[int, int]:
        return self.size.get(platform) or self.size.get("default") or (1200, 675)

    def font_path(self, bold: bool = False) -> Path:
        chosen = self.text.bold_font if bold else self.text.font
        if not chosen:
            return FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
        return self._file(chosen, "font")

    def logo_path(self) -> Path | None:
        return self._file(self.logo.file, "logo") if self.logo.file else None

    def _file(self, name: str, what: str) -> Path:
        path = (self.folder / name).resolve()
        if not path.is_file():
            raise MediaError(f"card layout {what} {name!r}: no file at {path}")
        return path


def find_layout(folders: list[Path]) -> Path:
    """The first `quote_card.toml` in `folders` (searched in order)."""
    for folder in folders:
        candidate = Path(folder) / FILE
        if candidate.is_file():
            return candidate
    raise MediaError(f"no {FILE} in the template folders ({', '.join(map(str, folders))})")


def load_layout(path: Path) -> CardLayout:
    """Read and check a layout file; a mistake is one line naming the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"card layout {path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise MediaError(f"card layout {path}: not valid TOML ({exc})") from None
    try:
        layout = CardLayout.model_validate({**data, "folder": path.parent})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise MediaError(f"card layout {path}: {where}: {err['msg']}") from None
    if layout.text.min_size > layout.text.max_size:
        raise MediaError(f"card layout {path}: text.min_size is above text.max_size")
    return layout
