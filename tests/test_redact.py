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
        "postgresql://registry:***@db:5432/registry"
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
