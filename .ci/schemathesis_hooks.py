"""What schemathesis cannot guess from the OpenAPI document: what a CSV upload looks like.

The document says the upload's `file` part is `text/csv`; this strategy makes the valid
uploads schemathesis sends real invitee lists, so the import itself is exercised.
"""

import schemathesis
from hypothesis import strategies as st

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
_row = st.tuples(_word, _word, _word, st.sampled_from(["CSE", "ECE", "ME"]), st.integers(2020, 2030))


def _render(rows):
    lines = ["email,name,college,branch,year"]
    lines += [f"{local}@example.org,{name},{college},{branch},{year}" for local, name, college, branch, year in rows]
    return ("\n".join(lines) + "\n").encode()


schemathesis.openapi.media_type("text/csv", st.lists(_row, min_size=1, max_size=5).map(_render))
