"""Claims files: TOML read by tomlkit with the line of every key, fields checked when loaded.

Every location comes from the parsed document (no regex over the raw text): a claim's
location is the line of its ``id``, an error in a formula names the line of its field
(in the claim or in its [[claim.part]] table), unknown, missing and mistyped fields are
located, and TOML's own syntax (literal strings with a LaTeX prime, comments, odd
spacing in headers) does not disturb the lines."""
from __future__ import annotations

from pathlib import Path

import pytest
from claim_files import PARTS, claim_file, line_of, write_claim

from verifier.claims import catalogue, load
from derive.errors import ClaimSyntaxError

CATALOGUE = catalogue()


def test_catalogue_locations_point_at_the_id_lines():
    for c in CATALOGUE:
        path, line = c.location.rsplit(":", 1)
        assert Path(path).read_text().splitlines()[int(line) - 1].strip() == f'id = "{c.id}"'


def test_claims_keep_their_order_and_fields(tmp_path):
    path = claim_file(tmp_path, kind="scalar", expect="partial", parts=PARTS, notes="two readings")
    [claim] = load(path)
    assert (claim.id, claim.kind, claim.expect, claim.notes, claim.line) == ("mutant", "scalar", "partial",
                                                                           "two readings", 1)
    assert [p.reading for p in claim.parts] == ["sigmoid", "tanh"]
    assert claim.statement == "dsigmoid(z) < 1 ; dtanh(z) < 1"


LAYOUT = """\
# a claims file with the layout TOML allows

[[claim]]   # the first claim
id = 'prime'
kind = "scalar"
seed = "001_e1543032cbfbfdb6.txt"
section = "s"
line = 1
text = '''f'(z) < 1 for "f" = tanh'''
notes = 'f' 
expect = "partial"

[[ claim . part ]]
reading = "f' of the sigmoid"
statement = "dsigmoid(z) < 1"

  [[claim.part]]
  reading = 'tanh'
  statement = 'dtanh(z) < y'
"""


def test_lines_come_from_the_document_whatever_the_layout(tmp_path):
    path = tmp_path / "layout.toml"
    path.write_text(LAYOUT)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert info.value.line == 19 and info.value.claim_line == 4 and "unknown name 'y'" in str(info.value)
    path.write_text(LAYOUT.replace("dtanh(z) < y", "dtanh(z) < 1"))
    [claim] = load(path)
    assert claim.location == f"{path}:4" and claim.text == """f'(z) < 1 for "f" = tanh"""
    assert claim.parts[0].reading == "f' of the sigmoid" and claim.parts[0].formula.line == 15


def test_a_part_error_is_located_at_its_own_line(tmp_path):
    path = claim_file(tmp_path, kind="scalar", expect="partial",
                      parts=[PARTS[0], {"reading": "bad", "statement": "dtanh(y) < 1"}])
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert info.value.line == line_of(path, "statement", last=True) and "unknown name 'y'" in str(info.value)


def test_field_errors_are_located(tmp_path):
    path, id_line, _ = write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", expect="maybe")
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:{line_of(path, 'expect')}: claim 'mutant' "
                                               rf"\(line {id_line}\): .*expect"):
        load(path)
    path, _, _ = write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", extra='colour = "red"')
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:{line_of(path, 'colour')}: .*unknown field 'colour'"):
        load(path)
    path, _, _ = write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", extra="tau = 'three'")
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:{line_of(path, 'tau')}: .*'tau' must be a int"):
        load(path)
    path = claim_file(tmp_path, kind="scalar", expect="holds", parts=[{"statement": "dtanh(z) < 1"}])
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:{line_of(path, '[[claim.part]]')}: .*missing field "
                                               "'reading'"):
        load(path)
    path = claim_file(tmp_path, expect="holds", statement="grad_W == grad_W", model="gru_minimal")
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:{line_of(path, 'model')}: .*unknown model 'gru_minimal'; "
                                               "known models: gru"):
        load(path)


@pytest.mark.parametrize("fields, needle", [
    (dict(model="rnn", expect="maybe", statement="grad_W == grad_W"), "partial"),
    (dict(model="rnn", statement="grad_W == grad_W", parts=PARTS), "not both"),
    (dict(statement="grad_W == grad_W"), "missing field 'model'"),
])
def test_claim_level_errors_are_located(tmp_path, fields, needle):
    path = claim_file(tmp_path, **{"expect": "holds", **fields})
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:") and needle in str(info.value), str(info.value)


def test_files_that_are_not_claims_files_are_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[claim]]\nid = "a"\nid = \n')
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:3: not valid TOML"):
        load(path)
    path.write_text('[[claim]]\nid = "a"\nid = "b"\n')
    with pytest.raises(ClaimSyntaxError, match=rf"{path}: not valid TOML: .*\"id\" already exists"):
        load(path)
    path.write_text('title = "claims"\n\n[[claim]]\nid = "a"\n')
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:1: unknown top-level key 'title'"):
        load(path)
    path.write_text('[[claim]]\nid = "a"\npart = [{ reading = "r" }]\n')
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:3: .*parts are \[\[claim.part\]\] tables"):
        load(path)
    path.write_text('[[claim]]\nid = "a"\n\n[claim.define]\nH = "W"\n')
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:4: claims are \[\[claim\]\] tables"):
        load(path)


def test_duplicate_ids_are_rejected(tmp_path):
    write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", cid="same", name="a.toml")
    write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", cid="same", name="b.toml")
    with pytest.raises(ClaimSyntaxError, match="duplicate id"):
        catalogue(tmp_path)
    path = tmp_path / "twice.toml"
    path.write_text((tmp_path / "a.toml").read_text() + "\n" + (tmp_path / "b.toml").read_text())
    with pytest.raises(ClaimSyntaxError, match=r"duplicate id \(first at line 4\)"):
        load(path)
