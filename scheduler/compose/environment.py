"""The Jinja2 environment posts are rendered in.

Sandboxed, because templates are user-editable files and must not reach Python
internals; StrictUndefined, because a typo must be an error, not a blank.
Bounded, because a sandbox stops a template from reaching Python but not from
working forever: `range(10**9)`, two nested loops, a macro or template that calls
itself, or `'a' * 10**8` would hang the daemon or store a 100 MB post. Each bound
is a count (loop iterations, characters, nesting depth), never a clock, so a
template is refused the same way on a fast machine and a slow one.
"""

from __future__ import annotations

import copy
import functools
import re
import string
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from scheduler.compose.filters import FILTERS
from scheduler.errors import ConfigError, TemplateError
from scheduler.resources import templates_dir

#: Posts are at most a few thousand characters; a hundred times that is a bug.
MAX_OUTPUT_CHARS = 100_000
#: Any one string, list or dict a template builds, checked before it is built
#: where the size is known beforehand (repetition, padding, joins).
MAX_VALUE_SIZE = MAX_OUTPUT_CHARS
MAX_RANGE = 10_000
#: All loop iterations of one render together, nested loops included.
MAX_LOOP_ITERATIONS = 100_000
#: Macro, block and caller() calls inside each other (a macro calling itself).
MAX_CALL_DEPTH = 50
#: Templates inside each other through include, import and extends.
MAX_TEMPLATE_DEPTH = 10
#: Far beyond any count or year a post shows; stops `9 ** 9 ** 9`.
MAX_INT_BITS = 4096
MAX_LIPSUM_WORDS = 1_000
#: Steps of one render: loop iterations, plus the characters and items every
#: operation reads or builds. Caps work that is linear per step but repeated,
#: such as copying a long string in every pass of a loop.
MAX_WORK = 10_000_000


class RenderLimitError(TemplateError):
    """A template went past one of the render bounds."""


@dataclass
class _Budget:
    """What one render has used so far, shared by the templates it includes."""

    iterations: int = 0
    work: int = 0
    call_depth: int = 0
    template_depth: int = 0


_budget: ContextVar[_Budget | None] = ContextVar("scheduler_template_budget", default=None)


def _current() -> _Budget:
    # Outside a render (a macro called from Python) each call starts afresh.
    return _budget.get() or _Budget()


def _size(value: Any) -> int | None:
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    return None


def _charge(units: int) -> None:
    budget = _current()
    budget.work += units
    if budget.work > MAX_WORK:
        raise RenderLimitError(f"the template does more than {MAX_WORK} steps of work")


def _printable(value: Any) -> Any:
    """Refuse a value whose text would be too long, before `str()` makes it.

    A list holding itself twice, nested forty times, is small in memory and
    prints as a trillion characters. Each container counts its items (at least
    a separator each) before they are visited, so the walk is bounded too."""
    if isinstance(value, str):
        _charge(len(value))
        return value
    size, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            size += len(item)
        elif isinstance(item, Namespace):
            size += 1
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, dict):
            size += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            size += 2 + len(item)
            stack.extend(item)
        else:
            size += 1
        if size > MAX_VALUE_SIZE:
            raise RenderLimitError(f"a value would print as more than {MAX_VALUE_SIZE} characters")
    _charge(size)
    return value


def _check_value(value: Any) -> Any:
    size = _size(value)
    _charge(1 + (size or 0))
    if size is not None and size > MAX_VALUE_SIZE:
        kind = "string" if isinstance(value, (str, bytes)) else type(value).__name__
        unit = "characters" if kind == "string" else "items"
        raise RenderLimitError(f"a {kind} of {size} {unit} is too long (limit {MAX_VALUE_SIZE})")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimitError(f"a number of {value.bit_length()} bits is too large")
    return value


def _refuse_size(what: str, size: int, unit: str = "characters") -> None:
    if size > MAX_VALUE_SIZE:
        raise RenderLimitError(f"{what} would make {size} {unit} (limit {MAX_VALUE_SIZE})")


def _check_repeat(left: Any, right: Any) -> None:
    for seq, n in ((left, right), (right, left)):
        if _size(seq) is not None and isinstance(n, int):
            unit = "characters" if isinstance(seq, (str, bytes)) else "items"
            _refuse_size("repetition", _size(seq) * max(n, 0), unit)
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise RenderLimitError(f"multiplication would make a number of {bits} bits")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        bits = (abs(base).bit_length() - 1) * exponent
        if bits > MAX_INT_BITS:
            raise RenderLimitError(f"power would make a number of about {bits} bits")


def _check_add(left: Any, right: Any) -> None:
    if _size(left) is not None and _size(right) is not None:
        _refuse_size("joining", _size(left) + _size(right))


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")
_FORMATTER = string.Formatter()


def _check_percent(fmt: str, args: Any) -> None:
    """Padding is the one way `%` formatting grows; refuse widths past the cap."""
    for spec in _PERCENT_SPEC.finditer(fmt):
        for part in spec.groups():
            if part == "*":
                values = args if isinstance(args, tuple) else (args,)
                widths = [v for v in values if isinstance(v, int)]
                if widths and max(widths) > MAX_VALUE_SIZE:
                    _refuse_size("formatting", max(widths))
            elif part:
                _refuse_size("formatting", int(part))


def _check_format_string(fmt: str) -> None:
    for _literal, _field, spec, _conversion in _FORMATTER.parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimitError("format widths taken from arguments are not allowed")
        for number in _NUMBER.findall(spec):
            _refuse_size("formatting", int(number))


def _check_replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    s, old, new = str(s), str(old), str(new)
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _refuse_size("replacing", len(s) + hits * max(len(new) - len(old), 0))


def _joined(sep: Any, items: Iterable[Any]) -> list[Any]:
    """The items, as a list, once their joined length is known to fit."""
    listed = list(items)
    total = len(str(sep)) * max(len(listed) - 1, 0)
    for item in listed:
        total += len(item) if isinstance(item, str) else len(str(_printable(item)))
        _refuse_size("joining", total)
    return listed


def _width(value: Any) -> int:
    return value if isinstance(value, int) else len(str(value))


def _precheck_str_method(method: Any, args: tuple, kwargs: dict) -> tuple:
    """Refuse a str method call whose result is known to be too long before
    making it; returns the arguments to call with (a join's items, listed)."""
    s, name = method.__self__, method.__name__
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        _refuse_size(f"{name}()", args[0])
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            _refuse_size("expandtabs()", len(s) + s.count("\t") * max(tab, 0))
    elif name == "replace" and len(args) >= 2:
        _check_replace(s, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
    elif name == "join" and args:
        return (_joined(s, args[0]), *args[1:])
    return args


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter so its result is checked, and the ones that grow text are
    checked before they run. `functools.wraps` keeps Jinja's pass_* marker."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value, rest = args[skip] if len(args) > skip else None, args[skip + 1 :]
        for arg in (*args[skip:], *kwargs.values()):
            _printable(arg)
        if name == "center":
            _refuse_size("center", _width(rest[0] if rest else kwargs.get("width", 80)))
        elif name == "indent":
            width = _width(rest[0] if rest else kwargs.get("width", 4))
            text = str(value)
            _refuse_size("indent", len(text) + (text.count("\n") + 1) * width)
        elif name == "replace" and len(rest) >= 2:
            _check_replace(value, rest[0], rest[1], rest[2] if len(rest) > 2 else None)
        elif name == "format":
            _check_percent(str(value), tuple(rest) or kwargs)
        elif name == "join":
            sep = rest[0] if rest else kwargs.get("d", "")
            if len(rest) < 2 and "attribute" not in kwargs:
                args = (*args[:skip], _joined(sep, value), *rest)
        return _check_value(func(*args, **kwargs))

    return bounded


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitError(f"range of {len(numbers)} numbers is too long (limit {MAX_RANGE})")
    return numbers


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n * max > MAX_LIPSUM_WORDS:
        raise RenderLimitError(f"lipsum of up to {n * max} words is too long")
    return jinja2.utils.generate_lorem_ipsum(n, html, min, max)


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _current()
    for item in iterable:
        budget.iterations += 1
        _charge(1)
        if budget.iterations > MAX_LOOP_ITERATIONS:
            raise RenderLimitError(f"loops ran more than {MAX_LOOP_ITERATIONS} times in one render")
        yield item


def _bounded_concat(pieces: Iterable[str]) -> str:
    """Every rendered buffer (the post, a macro's output, a `set` block) is
    joined here, so output stops growing as soon as it passes the cap."""
    out: list[str] = []
    total = 0
    try:
        for piece in pieces:
            total += len(piece)
            _charge(len(piece))
            if total > MAX_OUTPUT_CHARS:
                raise RenderLimitError(
                    f"output is longer than {MAX_OUTPUT_CHARS} characters; rendering stopped"
                )
            out.append(piece)
    finally:
        # Stop the render now, so its templates unwind their depth counts.
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    return "".join(out)


class _BoundedCodeGenerator(CodeGenerator):
    """Counts loop iterations and checks `~` joins; a code generator is the one
    place every `for` and `~` of every template passes through."""

    def visit_For(self, node: nodes.For, frame: Any) -> None:
        node = copy.copy(node)
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("count_loop"), [node.iter], [], None, None
        )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        operands = [
            nodes.Call(nodes.EnvironmentAttribute("printable"), [arg], [], None, None)
            for arg in node.nodes
        ]
        self.write("environment.check_value(")
        super().visit_Concat(nodes.Concat(operands, lineno=node.lineno), frame)
        self.write(")")


class _BoundedTemplate(jinja2.Template):
    def render(self, *args: Any, **kwargs: Any) -> str:
        # Each render starts a budget of its own, even if an abandoned
        # `generate()` left one behind.
        token = _budget.set(_Budget())
        try:
            return super().render(*args, **kwargs)
        finally:
            _budget.reset(token)

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):  # type: ignore[no-untyped-def]
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func = _nested(template.root_render_func)
        return template


def _nested(root: Callable[[Any], Iterator[str]]) -> Callable[[Any], Iterator[str]]:
    """Include, import and extends all run the other template's root function
    inside this one's, so its depth is the template nesting depth. The outermost
    one opens the render's budget."""

    def bounded_root(context: Any) -> Iterator[str]:
        token = _budget.set(_Budget()) if _budget.get() is None else None
        budget = _current()
        budget.template_depth += 1
        try:
            if budget.template_depth > MAX_TEMPLATE_DEPTH:
                raise RenderLimitError(
                    f"templates nested more than {MAX_TEMPLATE_DEPTH} deep"
                    " (a template that includes or extends itself?)"
                )
            yield from root(context)
        finally:
            budget.template_depth -= 1
            if token is not None:
                _budget.reset(token)

    return bounded_root


class BoundedSandboxedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every way a template can grow work or text
    counted: loops, `range`, `*`, `**`, `+`, `%`, `~`, calls, filters, nesting."""

    code_generator_class = _BoundedCodeGenerator
    template_class = _BoundedTemplate
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_bounded_concat)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # What `{{ ... }}` prints is checked before it is turned into text.
        kwargs.setdefault("finalize", _printable)
        super().__init__(*args, **kwargs)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum

    def count_loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        return _counted(iterable)

    def check_value(self, value: Any) -> Any:
        return _check_value(value)

    def printable(self, value: Any) -> Any:
        return _printable(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "+":
            _check_add(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent(left, right)
            _printable(right)
        _charge(1 + (_size(left) or 0) + (_size(right) or 0))
        try:
            return _check_value(super().call_binop(context, operator, left, right))
        except OverflowError as exc:
            raise RenderLimitError(f"number too large: {exc}") from None

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        _check_format_string(value.__self__)

        def bounded(*args: Any, **kwargs: Any) -> str:
            for arg in (*args, *kwargs.values()):
                _printable(arg)
            return _check_value(wrapper(*args, **kwargs))

        return bounded

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            _charge(len(__obj.__self__))
            args = _precheck_str_method(__obj, args, kwargs)
        elif isinstance(__obj, LoopContext) and args:
            # `loop(children)` in a recursive loop starts a loop of its own.
            args = (_counted(args[0]), *args[1:])
        _charge(1 + sum(_size(a) or 0 for a in args))
        budget = _current()
        budget.call_depth += 1
        try:
            if budget.call_depth > MAX_CALL_DEPTH:
                raise RenderLimitError(
                    f"calls nested more than {MAX_CALL_DEPTH} deep (a macro that calls itself?)"
                )
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.call_depth -= 1
        return _check_value(result)


def make_environment(extra_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """User folders are searched before the bundled templates, so a user can
    override `quote.j2` by writing their own."""
    for folder in extra_dirs:
        if not Path(folder).is_dir():
            # A typo in --templates must not quietly fall back to the bundled posts.
            raise ConfigError(f"no templates folder at {folder}")
    search = [str(p) for p in extra_dirs] + [str(templates_dir())]
    env = BoundedSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters = {
        name: _bounded_filter(name, func) for name, func in {**env.filters, **FILTERS}.items()
    }
    return env


def template_file(name: str) -> str:
    return name if name.endswith(".j2") else f"{name}.j2"


def list_templates(env: jinja2.Environment) -> list[str]:
    # `_footer.j2` and the like are pieces other templates include, not posts.
    return sorted(
        {
            t.removesuffix(".j2")
            for t in env.list_templates(extensions=["j2"])
            if not t.startswith("_")
        }
    )


def load(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Find and compile a template, so a missing or broken one fails before any work."""
    filename = template_file(name)
    try:
        return env.get_template(filename)
    except jinja2.TemplateNotFound:
        known = ", ".join(list_templates(env)) or "none"
        raise TemplateError(f"no template named {name!r} (available: {known})") from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or filename
        raise TemplateError(
            f"template {Path(where).name} line {exc.lineno}: {exc.message}"
        ) from None


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a template to post text, turning any template failure into one line."""
    filename = template_file(name)
    template = load(env, name)
    try:
        text = template.render(**context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template {filename}: not allowed: {exc}") from None
    except RenderLimitError as exc:
        raise TemplateError(f"template {filename}{_line_of(exc)}: {exc}") from None
    except RecursionError as exc:
        # A path to recursion the depth counts missed still ends as one line.
        raise TemplateError(f"template {filename}{_line_of(exc)}: nested too deep") from None
    except (OverflowError, MemoryError) as exc:
        raise TemplateError(f"template {filename}{_line_of(exc)}: too large: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {filename}{_line_of(exc)}: {exc.message}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise TemplateError(f"template {filename}{_line_of(exc)}: {exc}") from None
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if not text:
        raise TemplateError(f"template {filename} rendered an empty post")
    return text


def _line_of(exc: BaseException) -> str:
    """The template line from the traceback Jinja rewrites to point at the template."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" line {line}" if line else ""
