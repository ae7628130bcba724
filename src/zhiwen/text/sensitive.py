"""Text that must not reach a customer or be obeyed: secrets, and instructions planted for an AI.

A knowledge base is written by many hands. A pasted API key or password in a help document would be quoted
word for word by an extractive answer, and a sentence such as "ignore all previous instructions" is aimed at
the LLM that reads the passages. Secrets are recognised by the shapes of well-known credentials and by a
value with a digit after a word such as "password" or "密码"; they are replaced by :data:`REDACTED` at
ingestion and again in every answer (for knowledge ingested before this check existed). Instruction-like
text is kept (a document may be *about* prompt injection) but named in the ingestion report, and LLMs are
told that passages are quotations, not instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REDACTED = "[redacted]"

_SECRET_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "a private key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"),
    ),
    ("a Zhiwen API key", re.compile(r"\bzw_[A-Za-z0-9_-]{20,}")),
    ("an API key", re.compile(r"\b(?:sk-(?:proj-|ant-)?|sk_(?:live|test)_|hf_|glpat-)[A-Za-z0-9_-]{20,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("an Alibaba Cloud access key", re.compile(r"\bLTAI[0-9A-Za-z]{12,20}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*")),
    ("a password in a URL", re.compile(r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)")),
)
# "password: Summer2024!", "DB_PASSWORD=x9…", '"api_key": "8f3c…"', "管理员密码是 Admin@2024": the value goes,
# the words stay. A value needs a letter and a digit, so prose ("password: reset it in the app", "服务密码为
# 6 位数字") and printed numbers ("默认密码 123456") are left alone.
_ASSIGNED_SECRET = re.compile(
    r"(?P<name>(?<![A-Za-z])(?:password|passwd|pwd|passcode|api[ _-]?key|access[ _-]?key|secret[ _-]?key"
    r"|client[ _-]?secret|auth[ _-]?token|access[ _-]?token)(?![A-Za-z])|密码|口令|密钥)"
    r"(?P<glue>[\"']?\s*(?:is|:|：|=|是|为)\s*[\"']?)"
    r"(?P<value>(?=[^\s\"'，。、；;,)）]*[0-9])(?=[^\s\"'，。、；;,)）]*[A-Za-z])[^\s\"'，。、；;,)）]{6,})",
    re.IGNORECASE,
)
_INSTRUCTIONS = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|your)\s+"
    r"(?:instructions|prompts?|rules)"
    r"|\b(?:reveal|print|show|repeat)\s+(?:your|the)\s+system\s+prompt"
    r"|(?:忽略|无视|忘记)(?:之前|以上|上面|前面|先前)?的?(?:所有|全部)?的?(?:指令|指示|提示词|规则)"
    r"|(?:输出|显示|泄露)你?的?系统提示",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Redacted:
    text: str
    found: tuple[str, ...] = ()  # what was redacted, in words ("an API key"), once per occurrence


def redact_secrets(text: str) -> Redacted:
    """``text`` with every secret-like string replaced by :data:`REDACTED`."""
    found: list[str] = []
    for kind, pattern in _SECRET_SHAPES:
        text, count = pattern.subn(REDACTED, text)
        found += [kind] * count
    text, count = _ASSIGNED_SECRET.subn(rf"\g<name>\g<glue>{REDACTED}", text)
    found += ["a password or key"] * count
    return Redacted(text, tuple(found))


def instruction_like(text: str) -> str | None:
    """The first phrase of ``text`` that reads like an instruction to an AI assistant, if any."""
    match = _INSTRUCTIONS.search(text)
    return match.group(0) if match else None
