"""The reader's limits against hostile input, each checked before the parsing it guards.

Input past a limit becomes an error record (per file or per formula); nothing is
parsed beyond it, so time and memory stay bounded by these numbers.
"""

#: A notes file (``.md``, ``.txt``, ``.tex``) larger than this is refused unread.
MAX_FILE_BYTES = 1024 * 1024

#: A notebook may be larger (outputs hold images), but its markdown cells together
#: are held to ``MAX_FILE_BYTES``.
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024

#: One formula (its LaTeX, after macro expansion) longer than this is not parsed.
MAX_FORMULA_CHARS = 10_000

#: Formulas kept per file; the rest are refused with one file-level error.
MAX_FORMULAS_PER_FILE = 5_000

#: Nesting of braces, brackets, environments and of the parse tree itself.
MAX_NESTING_DEPTH = 48

#: Macro expansions within one formula (a recursive ``\newcommand`` stops here).
MAX_MACRO_EXPANSIONS = 1_000

#: ``\input``/``\include`` depth below the file given (the file given is depth 0).
MAX_INPUT_DEPTH = 8
