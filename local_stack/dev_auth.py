"""A development identity provider: an RSA signing key and its JWKS under the git-ignored data folder,
and tokens shaped like Cognito's, accepted by both doors when they run locally.

    python -m local_stack.dev_auth token --role registrar [--student 42]     (what `make token` runs)

Without a role (or with an unknown one) it lists the roles and what each may do, and exits with status 2.
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rest_contract.identity import GROUPS_CLAIM, STUDENT_ID_CLAIM
from student_records.access import Role

DEFAULT_KEY_DIR = Path(__file__).resolve().parents[1] / ".data" / "auth"
ISSUER = "https://student-records.local/issuer"
AUDIENCE = "student-records-local"
_KEY_ID = "local-dev-key"
# What each role may do, for the list `make token` prints without ROLE (the rules: student_records/access.py).
ROLE_DUTIES = {
    Role.ADMIN: "everything, the audit trail included",
    Role.REGISTRAR: "reads and writes student and academic records",
    Role.TEACHER: "directory fields of students; rosters and grades of the offerings SUBJECT teaches",
    Role.STUDENT: "their own record and transcript: STUDENT=<id> names it",
}
USAGE = "usage: make token ROLE=<role> [STUDENT=<id>] [SUBJECT=<user id>], e.g. TOKEN=$(make -s token ROLE=registrar)"


def ensure_keys(key_dir: Path = DEFAULT_KEY_DIR) -> Path:
    """Creates the signing key and its JWKS once; returns the JWKS file."""
    key_dir.mkdir(parents=True, exist_ok=True)
    private_pem, jwks_file = key_dir / "signing-key.pem", key_dir / "jwks.json"
    if not private_pem.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        private_pem.touch(mode=0o600)
        private_pem.write_bytes(pem)
        public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwks_file.write_text(json.dumps({"keys": [{**public_jwk, "kid": _KEY_ID, "use": "sig", "alg": "RS256"}]}))
    return jwks_file


def auth_environment(key_dir: Path = DEFAULT_KEY_DIR) -> dict[str, str]:
    """What the doors need to accept the tokens issued here."""
    return {"AUTH_JWKS_FILE": str(ensure_keys(key_dir)), "AUTH_ISSUER": ISSUER, "AUTH_AUDIENCE": AUDIENCE}


def issue_token(
    role: Role | str,
    *,
    student_id: int | None = None,
    subject: str | None = None,
    ttl_s: int = 3600,
    key_dir: Path = DEFAULT_KEY_DIR,
) -> str:
    ensure_keys(key_dir)
    now = int(time.time())
    claims = {
        "sub": subject or f"local-{Role(role).value}-{uuid.uuid4().hex[:8]}",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": now,
        "exp": now + ttl_s,
        GROUPS_CLAIM: [Role(role).value],
    }
    if student_id is not None:
        claims[STUDENT_ID_CLAIM] = str(student_id)
    key = (key_dir / "signing-key.pem").read_bytes()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _KEY_ID})


def roles_help(problem: str) -> str:
    """A few lines for a newcomer who ran `make token` without a role, or with a wrong one."""
    width = max(len(role.value) for role in Role)
    return "\n".join(
        [
            f"{problem}; ROLE is one of:",
            *(f"  ROLE={role.value:<{width}}  {ROLE_DUTIES[role]}" for role in Role),
            (
                "SUBJECT=<user id> is who the token is for (a fresh user by default); SUBJECT=demo-teacher-grace"
                " teaches the demo data's CS offerings."
            ),
            USAGE,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a token for a role")
    token.add_argument("--role", help=f"one of {', '.join(Role)}")
    token.add_argument("--student", type=int, help="the student id a `student` token may read")
    token.add_argument("--subject", help="the user id (sub); a fresh one by default")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    args = parser.parse_args(argv)
    # Told here rather than by argparse, whose usage line names this module's options, not make's variables.
    if args.role is None or args.role not in {role.value for role in Role}:
        problem = "make token needs a role" if args.role is None else f"there is no role {args.role!r}"
        print(roles_help(problem), file=sys.stderr)
        return 2
    if args.role == Role.STUDENT and args.student is None:
        print(f"a student token needs STUDENT=<id>, the record it may read\n{USAGE}", file=sys.stderr)
        return 2
    key_dir = Path(os.environ.get("AUTH_KEY_DIR", DEFAULT_KEY_DIR))
    print(issue_token(args.role, student_id=args.student, subject=args.subject, ttl_s=args.ttl, key_dir=key_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
