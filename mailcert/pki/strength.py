"""Key strength as OpenSSL's security levels count it (crypto/bn/bn_lib.c `BN_security_bits`,
`EVP_PKEY_get_security_bits`): level 2, Debian's and RHEL's default, refuses a key under 112 bits of security
("EE certificate key too weak" / "CA certificate key too weak")."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from mailcert.pki.der import has_explicit_ec_parameters

LEVEL_2_BITS = 112


@dataclass(frozen=True)
class KeyStrength:
    algorithm: str  # "RSA", "EC", "DSA", "Ed25519", ...
    bits: int  # modulus / curve size
    security_bits: int  # what OpenSSL compares with the security level
    unusable: str | None = None  # why a client cannot use the key at all (explicit EC parameters, ...)

    @property
    def refused_at_level_2(self) -> bool:
        return self.unusable is not None or self.security_bits < LEVEL_2_BITS

    @property
    def marginal(self) -> bool:
        """EC 224–255 bits: accepted at level 2, but below what current CAs issue (P-256)."""
        return self.algorithm == "EC" and 224 <= self.bits < 256


def _finite_field_bits(modulus_bits: int, subgroup_bits: int | None = None) -> int:
    """BN_security_bits(L, N): NIST SP 800-57 equivalences, N/2 bounding it for DSA."""
    level = 0
    for minimum, bits in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
        if modulus_bits >= minimum:
            level = bits
            break
    if subgroup_bits is not None:
        level = min(level, subgroup_bits // 2)
    return level


@lru_cache(maxsize=4096)
def key_strength(cert: x509.Certificate) -> KeyStrength:
    """The strength of `cert`'s public key; never raises (cached: certificates are immutable)."""
    if has_explicit_ec_parameters(cert):
        return KeyStrength(
            "EC", 0, 0, unusable="its EC public key has explicit curve parameters, not a named curve"
        )
    try:
        key = cert.public_key()
    except Exception as exc:  # noqa: BLE001 — explicit EC parameters, unknown algorithms: clients refuse them too
        return KeyStrength("unknown", 0, 0, unusable=f"its public key cannot be used ({exc})")
    if isinstance(key, rsa.RSAPublicKey):
        return KeyStrength("RSA", key.key_size, _finite_field_bits(key.key_size))
    if isinstance(key, ec.EllipticCurvePublicKey):
        return KeyStrength("EC", key.curve.key_size, key.curve.key_size // 2)
    if isinstance(key, dsa.DSAPublicKey):
        numbers = key.parameters().parameter_numbers()
        return KeyStrength("DSA", key.key_size, _finite_field_bits(key.key_size, numbers.q.bit_length()))
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyStrength("Ed25519", 256, 128)
    if isinstance(key, ed448.Ed448PublicKey):
        return KeyStrength("Ed448", 456, 224)
    return KeyStrength(type(key).__name__, 0, 0, unusable="its public key algorithm is not one clients use")
