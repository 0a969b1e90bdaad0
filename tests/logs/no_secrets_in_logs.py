"""The last test of a run: no log that iotgw or iotgw-hub wrote during the tests holds a secret.

Usage: no_secrets_in_logs.py LOG_DIR SOURCE_DIR...

LOG_DIR holds the logs (*.log) and, beside them, registries with keys a test made up at run time
(*.yaml, from tests/hub/hub_fixture.py): secrets to look for, not logs. The other secrets are
gathered from the tests' and configs' own text, so a new test's key is checked
without editing this file: YAML keys that hold secrets (primary_key, secondary_key, key,
policy_key, password, secret, psk), C++ and Python constants and variables named for a key,
password, secret or token, and connection strings' SharedAccessKey. Besides those, a log must
never hold what a secret looks like at run time, whatever its value: a SharedAccessSignature's
sig= (minted by the tests, so not in their text) or a connection string's SharedAccessKey=.
Exits 1 naming every file:line that leaks and where the secret came from."""
import os
import re
import sys

MIN_LENGTH = 8  # shorter values ("guest", "a2V5") are words a log may say for another reason

# key: VALUE in YAML, also inside C++ and Python string literals that write YAML.
YAML_SECRET = re.compile(
    r"\b(?:primary_key|secondary_key|policy_key|key|password|secret|psk|psk_key)\s*:\s*"
    r"['\"]?([A-Za-z0-9+/=_\-.]+)")
# kGatewayKey = "...", kMqttPassword = "...", password = '...', token="..."; not token_type=,
# which names a kind of token a log may well say it refused.
NAMED_SECRET = re.compile(
    r"\b(?!\w*_type\b)\w*(?:key|password|secret|token)\w*\s*=\s*(?:u8)?['\"]([^'\"\s]+)['\"]", re.IGNORECASE)
CONNECTION_KEY = re.compile(r"SharedAccessKey=([A-Za-z0-9+/=]+)")

# Secrets minted at run time, recognised by their shape.
RUNTIME_SHAPES = [
    ("a SharedAccessSignature sig=", re.compile(r"\bsig=[A-Za-z0-9%+/=]{20,}")),
    ("a connection string's SharedAccessKey=", re.compile(r"SharedAccessKey=[A-Za-z0-9+/=]{8,}")),
]

TEXT_SUFFIXES = (".cpp", ".hpp", ".h", ".c", ".py", ".js", ".sh", ".yaml", ".yml", ".json", ".txt")
# Not secrets, though named like one: the WebSocket handshake's fixed sample nonce (RFC 6455).
NOT_SECRETS = {"dGhlIHNhbXBsZSBub25jZQ=="}


def text_files(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("node_modules", "corpus", "__pycache__")]
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(TEXT_SUFFIXES) and os.path.abspath(path) != os.path.abspath(__file__):
                yield path


def gather(paths):
    secrets = {}
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                for pattern in (YAML_SECRET, NAMED_SECRET, CONNECTION_KEY):
                    for m in pattern.finditer(line):
                        value = m.group(1).rstrip(".,")
                        if plausible(value):
                            secrets.setdefault(value, "%s:%d" % (path, number))
    return secrets


def plausible(value):
    """A literal secret, not a C++ or Python name the pattern caught (kMqttPassword, key_of)."""
    if len(value) < MIN_LENGTH or value in NOT_SECRETS:
        return False
    if re.fullmatch(r"k[A-Z]\w*|[a-z_]+\(?|[a-z]+[A-Z]\w*", value) and not re.search(r"\d|=$", value):
        return value.lower() in ("opensesame", "secretkey")  # words used as passwords in tests
    return True


def main():
    log_dir, roots = sys.argv[1], sys.argv[2:]
    secrets = gather(p for root in roots for p in text_files(root))
    if not secrets:
        sys.exit("no secrets found in %s: the patterns no longer match the tests" % roots)
    kept = sorted(os.path.join(log_dir, n) for n in os.listdir(log_dir)) if os.path.isdir(log_dir) else []
    secrets.update(gather(p for p in kept if p.endswith(".yaml")))
    logs = [p for p in kept if p.endswith(".log")]
    leaks = []
    for log in logs:
        with open(log, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                for value, origin in secrets.items():
                    if value in line:
                        leaks.append("%s:%d: secret from %s: %s" % (log, number, origin, line.strip()))
                for what, shape in RUNTIME_SHAPES:
                    if shape.search(line):
                        leaks.append("%s:%d: %s: %s" % (log, number, what, line.strip()))
    print("%d logs checked for %d secrets gathered from %s" % (len(logs), len(secrets), ", ".join(roots)))
    if leaks:
        print("\n".join(leaks))
        sys.exit(1)


if __name__ == "__main__":
    main()
