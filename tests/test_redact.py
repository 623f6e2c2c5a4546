"""Redaction: known secrets, credentials in URLs and DSNs, secret-looking keys."""

from geopreflight.redact import MASK, Redactor


def test_known_secrets_are_masked_everywhere() -> None:
    r = Redactor(["glpat-0123456789", "s3cr3t-db-pass"])
    text = r.text("token glpat-0123456789 and glpat-0123456789; db s3cr3t-db-pass")
    assert "glpat-0123456789" not in text and "s3cr3t-db-pass" not in text
    assert text.count(MASK) == 3


def test_shapes_of_secrets() -> None:
    r = Redactor()
    assert r.text("postgresql://registry:hunter2@db:5432/registry") == \
        "postgresql://***@db:5432/registry"
    assert "hunter2" not in r.text("host=db password=hunter2 user=registry")
    assert "hunter2" not in r.text("PASSWORD: 'hunter2'")


def test_data_masks_by_key_name() -> None:
    r = Redactor()
    data = {"http": {"secret": "abc"}, "headers": {"Authorization": ["Bearer x"]},
            "database": {"password": "pw", "user": "registry"}, "count": 3}
    out = r.data(data)
    assert out["http"]["secret"] == MASK and out["headers"]["Authorization"] == MASK
    assert out["database"] == {"password": MASK, "user": "registry"}
    assert out["count"] == 3


def test_short_values_are_not_treated_as_secrets() -> None:
    # masking every "a" would make messages unreadable; secrets are at least 4 characters
    assert Redactor(["a"]).text("a cat") == "a cat"


SECRET = 'glpat-S3cr3t/+"x\\y&z é'  # quotes, slashes, +, &, a backslash and non-ASCII


def _forms(secret: str) -> dict[str, str]:
    import base64
    import json
    import re
    from urllib.parse import quote, quote_plus

    raw = secret.encode()
    forms = {"raw": secret, "json": json.dumps(secret), "json-ascii": json.dumps(secret),
             "json-twice": json.dumps(json.dumps(secret)), "repr": repr(secret),
             "unicode-escape": secret.encode("unicode_escape").decode(),
             "quote": quote(secret, safe=""), "quote-default": quote(secret),
             "quote_plus": quote_plus(secret),
             "quote-lower-hex": re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(),
                                       quote(secret, safe=""))}
    forms["json"] = json.dumps(secret, ensure_ascii=False)
    for user in ("", "a", "ab", "geopreflight", "root"):  # every alignment of the secret
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        forms[f"basic({user!r})"] = f"Authorization: Basic {token}"
        forms[f"urlsafe({user!r})"] = base64.urlsafe_b64encode(f"{user}:{secret}".encode()
                                                               ).decode()
    forms["b64"] = base64.b64encode(raw).decode()
    return forms


def test_every_form_of_a_known_secret_is_masked() -> None:
    r = Redactor([SECRET])
    for name, form in _forms(SECRET).items():
        out = r.text(f"error: {form} (while talking to gitlab)")
        for other in _forms(SECRET).values():
            core = other.split()[-1].strip('"')
            assert core not in out or len(core) < 4, (name, out)
        assert out.startswith("error: ") and out.endswith("(while talking to gitlab)"), out


def test_base64_masking_keeps_the_rest_of_the_text() -> None:
    import base64

    r = Redactor(["hunter2-password"])
    basic = base64.b64encode(b"registry:hunter2-password").decode()
    assert r.text(f"sent Basic {basic} to https://x") == "sent Basic *** to https://x"
    # an unrelated base64 value (a digest) is left alone
    other = base64.b64encode(b"nothing secret in here at all").decode()
    assert r.text(other) == other


def test_tokens_in_url_queries_and_userinfo() -> None:
    r = Redactor()
    for query in ("private_token", "access_token", "token", "job_token", "X-Amz-Signature"):
        out = r.text(f"GET https://gl.example/api/v4/geo_sites?page=1&{query}=abc123def&x=1")
        assert "abc123def" not in out and "page=1" in out and "x=1" in out, out
    assert "pw" not in r.text("https://user:pw@gl.example/api").replace("https", "")
    assert r.text("PRIVATE-TOKEN: glpat-xyz") == "PRIVATE-TOKEN: ***"
    assert r.text("{'PRIVATE-TOKEN': 'glpat-xyz'}") == "{'PRIVATE-TOKEN': ***}"


def test_bearer_words_are_not_mistaken_for_tokens() -> None:
    r = Redactor()
    assert r.text("the registry must answer with a Bearer challenge") == \
        "the registry must answer with a Bearer challenge"
    assert "eyJhbGciOi.x.y" not in r.text("Authorization: Bearer eyJhbGciOi.x.y")
