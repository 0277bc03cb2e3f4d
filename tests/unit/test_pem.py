"""PEM scanning: every block in file order, keys reduced to public keys, junk explained (checked by hand)."""

from cryptography.hazmat.primitives import serialization

from mailcert.facts import BlockKind
from mailcert.pem import scan_pem
from tests.pki import TestPKI, cert_pem, key_pem, new_key


def test_combined_file_keeps_order_and_derives_the_public_key() -> None:
    pki = TestPKI()
    leaf = pki.leaf()
    data = (
        leaf.key_pem()
        + cert_pem(leaf.cert, pki.intermediate.cert)
        + b"-----BEGIN DH PARAMETERS-----\nAA==\n-----END DH PARAMETERS-----\n"
    )
    blocks, error = scan_pem(data)
    assert error is None
    assert [b.kind for b in blocks] == [
        BlockKind.PRIVATE_KEY,
        BlockKind.CERTIFICATE,
        BlockKind.CERTIFICATE,
        BlockKind.OTHER,
    ]
    expected = leaf.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert blocks[0].public_key_der == expected
    assert blocks[1].der == leaf.cert.public_bytes(serialization.Encoding.DER)


def test_traditional_rsa_and_encrypted_keys() -> None:
    rsa_key = new_key("rsa")
    traditional = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (block,), _ = scan_pem(traditional)
    assert block.label == "RSA PRIVATE KEY"
    assert block.public_key_der is not None
    (encrypted,), _ = scan_pem(key_pem(new_key(), password=b"pw"))
    assert encrypted.encrypted is True
    assert encrypted.public_key_der is None


def test_crlf_line_endings_are_fine() -> None:
    pki = TestPKI()
    blocks, error = scan_pem(pki.root_pem().replace(b"\n", b"\r\n"))
    assert error is None
    assert blocks[0].der is not None


def test_corrupt_base64_inside_a_certificate_block() -> None:
    blocks, error = scan_pem(b"-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n")
    assert error is None
    assert blocks[0].der is None
    assert "corrupt certificate block" in (blocks[0].error or "")


def test_no_pem_reasons() -> None:
    assert scan_pem(b"") == ((), "the file is empty")
    assert "DER" in (scan_pem(b"\x30\x82\x01\x00rest")[1] or "")
    assert "no PEM data" in (scan_pem(b"hello world")[1] or "")
