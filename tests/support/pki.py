"""A test PKI (root, intermediate, prescribers' certificates) and prescribers' JWS, for the signature tests."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.jwk import b64url_encode

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def prescription(**changes: Any) -> dict[str, Any]:
    """A normalised national prescription document with five drug lines."""
    lines = [
        {"ma_thuoc": "VD-32243-19", "biet_duoc": "Panadol", "ten_thuoc": "Paracetamol 500mg",
         "don_vi_tinh": "Viên", "so_luong": 20, "cach_dung": "Uống 1 viên khi sốt, cách 6 giờ"},
        {"ma_thuoc": "VD-21345-14", "biet_duoc": "Augmentin", "ten_thuoc": "Amoxicilin 875mg + Acid clavulanic 125mg",
         "don_vi_tinh": "Viên", "so_luong": 14, "cach_dung": "Uống 1 viên x 2 lần/ngày sau ăn"},
        {"ma_thuoc": "VN-18818-15", "biet_duoc": "Telfast", "ten_thuoc": "Fexofenadin 180mg",
         "don_vi_tinh": "Viên", "so_luong": 7, "cach_dung": "Uống 1 viên buổi sáng"},
        {"ma_thuoc": "VD-25588-16", "biet_duoc": "Omeprazol", "ten_thuoc": "Omeprazol 20mg",
         "don_vi_tinh": "Viên", "so_luong": 14, "cach_dung": "Uống 1 viên trước ăn sáng 30 phút"},
        {"ma_thuoc": "VD-19812-13", "biet_duoc": "Oresol",
         "ten_thuoc": "Natri clorid, Kali clorid, Natri citrat, Glucose",
         "don_vi_tinh": "Gói", "so_luong": 5, "cach_dung": "Pha 1 gói với 200 ml nước, uống trong ngày"},
    ]
    document: dict[str, Any] = {
        "loai_don_thuoc": "c", "ma_don_thuoc": "79001A1B2C3D-c",
        "ho_ten_benh_nhan": "Nguyễn Thị Hồng Nhung", "ma_dinh_danh_y_te": "",
        "ma_dinh_danh_cong_dan": "079190001234", "ngay_sinh_benh_nhan": "1990-04-15",
        "can_nang": 52.5, "gioi_tinh": 3, "ma_so_the_bao_hiem_y_te": "DN4797912345678",
        "thong_tin_nguoi_giam_ho": "", "dia_chi": "12 Nguyễn Trãi, Phường Bến Thành, TP. Hồ Chí Minh",
        "chan_doan": [{"ma_chan_doan": "J02.9", "ten_chan_doan": "Viêm họng cấp",
                       "ket_luan": "Viêm họng cấp, sốt"}],
        "luu_y": "", "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "2026-03-02", "den_ngay": "2026-03-08"}],
        "thong_tin_don_thuoc": lines, "loi_dan": "Uống nhiều nước, tái khám nếu sốt trên 3 ngày",
        "so_dien_thoai_nguoi_kham_benh": "0903123456", "ngay_tai_kham": 7,
        "ngay_gio_ke_don": "2026-03-02 09:30:00", "signature": "",
    }
    document.update(changes)
    return document


# --- a test PKI -------------------------------------------------------------------------------
@dataclass
class Issued:
    certificate: x509.Certificate
    key: Any

    def der_b64(self) -> str:
        return base64.b64encode(self.certificate.public_bytes(Encoding.DER)).decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(common_name: str, *, issuer: Issued | None = None, ca: bool,
          key: Any = None, not_before: datetime = NOW - timedelta(days=365),
          not_after: datetime = NOW + timedelta(days=365),
          digital_signature: bool = True) -> Issued:
    """A certificate: a self-signed root (no issuer), a CA, or a prescriber's certificate."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    builder = (x509.CertificateBuilder().subject_name(_name(common_name))
               .issuer_name(issuer.certificate.subject if issuer else _name(common_name))
               .public_key(public).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
    signing_key = issuer.key if issuer else key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    if ca:
        builder = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False,
                                                decipher_only=False), critical=True))
    else:
        builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=digital_signature,
                                                content_commitment=True, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                  critical=False))
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signing_key, algorithm), key)


@dataclass
class Pki:
    root: Issued
    intermediate: Issued
    leaf: Issued

    def chain(self, leaf: Issued | None = None) -> list[str]:
        return [(leaf or self.leaf).der_b64(), self.intermediate.der_b64()]

    def issue_leaf(self, common_name: str = "Bác sĩ Trần Văn B", **options: Any) -> Issued:
        return issue(common_name, issuer=self.intermediate, ca=False, **options)


def build_pki() -> Pki:
    """A root CA, an intermediate CA under it, and a prescriber's certificate."""
    root = issue("Test Root CA", ca=True, not_before=NOW - timedelta(days=3650),
                 not_after=NOW + timedelta(days=3650))
    intermediate = issue("Test Signing CA", issuer=root, ca=True,
                         not_before=NOW - timedelta(days=1800), not_after=NOW + timedelta(days=1800))
    leaf = issue("Bác sĩ Nguyễn Văn A", issuer=intermediate, ca=False)
    return Pki(root, intermediate, leaf)


def prescriber_jws(payload: bytes, signer: Issued, chain: list[str], *, alg: str = "ES256",
                   detached: bool = True, extra: dict[str, Any] | None = None) -> str:
    """A prescriber's compact JWS as an HIS would make it (independently of signing/)."""
    import json

    header = {"alg": alg, "x5c": chain, "sigT": "2026-03-02T02:30:00Z", **(extra or {})}
    encoded_header = b64url_encode(json.dumps(header).encode())
    encoded_payload = b64url_encode(payload)
    signing_input = f"{encoded_header}.{encoded_payload}".encode()
    if alg == "ES256":
        r, s = decode_dss_signature(signer.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "RS256":
        from cryptography.hazmat.primitives.asymmetric import padding
        signature = signer.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = signer.key.sign(signing_input)
    return f"{encoded_header}.{'' if detached else encoded_payload}.{b64url_encode(signature)}"
