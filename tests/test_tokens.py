import os
import stat

import pytest

from papersift.tokens import TokenError, feedback_url, load_key, sign, verify


def test_round_trip_and_tamper(tmp_path):
    key = load_key(tmp_path / "secret.key", env={})
    token = sign(key, "alice", "2501.00001", "up")
    fb = verify(key, token)
    assert (fb.user, fb.paper_id, fb.action) == ("alice", "2501.00001", "up")
    _body, mac = token.split(".")
    forged = sign(b"other key", "bob", "2501.00001", "up").split(".")[0] + "." + mac
    with pytest.raises(TokenError, match="bad signature"):
        verify(key, forged)
    with pytest.raises(TokenError, match="malformed"):
        verify(key, "garbage")


def test_expired(tmp_path):
    key = load_key(tmp_path / "k", env={})
    token = sign(key, "a", "2501.00001", "down", days=1, now=0)
    with pytest.raises(TokenError, match="expired"):
        verify(key, token)


def test_key_file_is_private_and_stable(tmp_path):
    path = tmp_path / "d" / "secret.key"
    key = load_key(path, env={})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path, env={}) == key
    assert load_key(path, env={"PAPERSIFT_SECRET_KEY": "x"}) == b"x"


def test_url(tmp_path):
    key = load_key(tmp_path / "k", env={})
    url = feedback_url("http://h:1/", key, "a", "2501.00001", "save")
    assert url.startswith("http://h:1/feedback?t=")
