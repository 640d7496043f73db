"""Writes a self-signed TLS certificate for the proxy of compose.yaml, unless one is there.

Run by the ``tls`` one-shot service with eTest's image (which has ``cryptography``), so the
stack starts on https with nothing installed on the host. Browsers warn about a self-signed
certificate: for a public name, put a real ``fullchain.pem`` and ``privkey.pem`` in
``deploy/tls/`` (e.g. from an ACME client) and this script leaves them alone.

Usage: ``python3 selfsigned.py DIR NAME`` (NAME: the public host name, ETEST_DOMAIN).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Short enough that a forgotten self-signed certificate does not live on for years.
VALID_DAYS = 90


def main(directory: Path, name: str) -> int:
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    if cert_path.exists() and key_path.exists():
        print(f"tls: {cert_path} exists; left as it is", file=sys.stderr)
        return 0
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(name)]
    if name != "localhost":
        names.append(x509.DNSName("localhost"))
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    # the key first, created private: never readable by others, not even for a moment
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    print(f"tls: self-signed certificate for {name} in {directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: selfsigned.py DIR NAME")
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
