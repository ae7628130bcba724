"""One SQLite database: connection, reentrant transactions and versioned migrations.

The schema version lives in ``PRAGMA user_version``; each migration is applied once, in order, inside a
transaction, so an interrupted upgrade leaves the previous version intact.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from zhiwen.stores.shared_connection import SharedConnection
from zhiwen.text.fingerprints import buckets


def fts_table(workspace_id: str) -> str:
    """The FTS5 table of one workspace. Each workspace (and each release snapshot) has its own, so BM25
    statistics and the term vocabulary are its own: another tenant's, or a later release's, documents
    never change its ranking or confidence."""
    name = "fts_" + re.sub(r"[^A-Za-z0-9]", "_", workspace_id)
    if not re.fullmatch(r"fts_[A-Za-z0-9_]{1,120}", name):
        raise ValueError(f"unusable workspace id {workspace_id!r}")
    return name


def create_fts(conn: sqlite3.Connection, workspace_id: str) -> str:
    table = fts_table(workspace_id)
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5("
        "terms, chunk_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')"
    )
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table}_vocab USING fts5vocab({table}, row)")
    return table


def _split_shared_fts(conn: sqlite3.Connection) -> None:
    """Migration 2, data step: move the shared ``chunk_terms`` rows into one FTS5 table per workspace."""
    workspaces = [r[0] for r in conn.execute("SELECT DISTINCT workspace_id FROM chunk_terms").fetchall()]
    for workspace_id in workspaces:
        table = create_fts(conn, workspace_id)
        conn.execute(
            f"INSERT INTO {table} (terms, chunk_id)"
            " SELECT terms, chunk_id FROM chunk_terms WHERE workspace_id = ?",
            (workspace_id,),
        )
    conn.execute("DROP TABLE chunk_terms_vocab")
    conn.execute("DROP TABLE chunk_terms")


def _append_only_audit(conn: sqlite3.Connection) -> None:
    """Migration 14: triggers that refuse to change or remove audit entries (a trigger's body has
    semicolons of its own, so it cannot go through the statement splitter)."""
    for verb in ("UPDATE", "DELETE"):
        conn.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log"
            " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def _vector_versions(conn: sqlite3.Connection) -> None:
    """Migration 18: a version per workspace that every change of its vectors bumps (triggers, so a
    cascade from a deleted chunk counts too). A process holding a workspace's vectors in memory reads
    again only when it moved, not after every write another process makes (an answer recorded)."""
    conn.execute("CREATE TABLE vector_versions (workspace_id TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        conn.execute(
            f"CREATE TRIGGER vectors_{event.lower()}_bump AFTER {event} ON vectors BEGIN"
            f" INSERT INTO vector_versions (workspace_id, version) VALUES ({row}.workspace_id, 1)"
            " ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1; END"
        )


def _bucket_signatures(conn: sqlite3.Connection) -> None:
    """Migration 22: the LSH buckets of every stored signature, 5,000 chunks at a time (a million chunks'
    rows at once would take a gigabyte)."""
    after = ""
    while rows := conn.execute(
        "SELECT id, workspace_id, signature FROM chunks WHERE signature IS NOT NULL AND id > ?"
        " ORDER BY id LIMIT 5000",
        (after,),
    ).fetchall():
        conn.executemany(
            "INSERT INTO chunk_buckets (chunk_id, workspace_id, bucket) VALUES (?, ?, ?)",
            [(chunk_id, workspace, bucket) for chunk_id, workspace, sig in rows for bucket in buckets(sig)],
        )
        after = rows[-1][0]


Migration = str | Callable[[sqlite3.Connection], None]  # SQL statements, or a data step in Python


def statements(sql: str) -> list[str]:
    """``sql`` cut into statements at the semicolons that end one (not those inside a trigger's body or
    a quoted string)."""
    found, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n\t;"):
                found.append(current.strip().removesuffix(";").strip())
            current = ""
    if current.strip(" \n\t;"):
        found.append(current.strip().removesuffix(";").strip())
    return found


# From migration 20 on, every migration also upgrades PostgreSQL databases (stores/postgres/db.py): write
# its SQL in what both engines speak (types are translated, a trigger needs its PL/pgSQL twin there), and
# a Python step against the `execute(sql, params)` both connections have.
MIGRATIONS: list[list[Migration]] = [
    # 1: workspaces, keys, documents, chunks, FTS5 keyword index, vectors, jobs, conversations, answers.
    [
        """
    CREATE TABLE workspaces (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'client')),
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (workspace_id, source)
    );
    CREATE TABLE chunks (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        title_path TEXT NOT NULL,
        text TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('passage', 'faq')),
        question TEXT,
        content_hash TEXT NOT NULL,
        embedded INTEGER NOT NULL DEFAULT 0,
        signature BLOB
    );
    CREATE INDEX chunks_document ON chunks(document_id);
    CREATE INDEX chunks_workspace_hash ON chunks(workspace_id, content_hash);
    CREATE INDEX chunks_pending ON chunks(embedded) WHERE embedded = 0;
    CREATE VIRTUAL TABLE chunk_terms USING fts5(
        terms, chunk_id UNINDEXED, workspace_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE chunk_terms_vocab USING fts5vocab(chunk_terms, row);
    CREATE TABLE vectors (
        chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        result TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE workspace_settings (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (workspace_id, key)
    );
    CREATE TABLE answers (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
        question TEXT NOT NULL,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """
    ],
    # 2: the quality lifecycle: release snapshots, feedback and review, curated answers, golden sets,
    # evaluation runs; one FTS5 table per workspace instead of the shared one.
    [
        """
    ALTER TABLE workspaces ADD COLUMN snapshot_of TEXT REFERENCES workspaces(id) ON DELETE CASCADE;
    ALTER TABLE answers ADD COLUMN release_number INTEGER;
    ALTER TABLE answers ADD COLUMN handoff INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE answers ADD COLUMN review TEXT;
    UPDATE answers SET handoff = coalesce(json_extract(record, '$.answer.handoff'), 0);
    CREATE INDEX answers_workspace_created ON answers(workspace_id, created_at);
    CREATE TABLE feedback (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        rating TEXT NOT NULL CHECK (rating IN ('like', 'dislike')),
        comment TEXT NOT NULL DEFAULT '',
        correction TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX feedback_answer ON feedback(answer_id);
    CREATE TABLE curated_answers (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        from_answer_id TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE golden_sets (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE (workspace_id, name, version)
    );
    CREATE TABLE golden_items (
        set_id TEXT NOT NULL REFERENCES golden_sets(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (set_id, position)
    );
    CREATE TABLE eval_runs (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        golden_set_id TEXT NOT NULL REFERENCES golden_sets(id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        split TEXT NOT NULL,
        summary TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE eval_results (
        run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE releases (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        knowledge_id TEXT NOT NULL REFERENCES workspaces(id),
        config TEXT NOT NULL,
        manifest TEXT NOT NULL,
        eval_run_id TEXT REFERENCES eval_runs(id) ON DELETE SET NULL,
        note TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        pruned_at TEXT,
        UNIQUE (workspace_id, number)
    );
    CREATE TABLE live_releases (
        workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        release_id TEXT NOT NULL REFERENCES releases(id),
        since TEXT NOT NULL
    );
    CREATE TABLE release_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        release_id TEXT NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
        _split_shared_fts,
    ],
    # 3: review analytics: customer reviews with their scores, embeddings, sentiment model versions with a
    # live pointer, and complaint topics.
    [
        """
    CREATE TABLE reviews (
        id TEXT NOT NULL,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        rating REAL,
        product TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        label TEXT,
        source TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        sentiment TEXT,
        probability REAL,
        model_version INTEGER,
        topic INTEGER,
        PRIMARY KEY (workspace_id, id)
    );
    CREATE INDEX reviews_product_time ON reviews(workspace_id, product, created_at);
    CREATE INDEX reviews_time ON reviews(workspace_id, created_at);
    CREATE TABLE review_vectors (
        workspace_id TEXT NOT NULL,
        review_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (workspace_id, review_id),
        FOREIGN KEY (workspace_id, review_id) REFERENCES reviews(workspace_id, id) ON DELETE CASCADE
    );
    CREATE TABLE sentiment_models (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        labels TEXT NOT NULL,
        params TEXT NOT NULL,
        report TEXT NOT NULL,
        model BLOB,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (workspace_id, version)
    );
    CREATE TABLE sentiment_live (
        workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        since TEXT NOT NULL
    );
    CREATE TABLE sentiment_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE review_topics (
        workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """
    ],
    # 4: recommendations: the product catalogue and customers' behaviour events.
    [
        """
    CREATE TABLE catalog_items (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        category TEXT NOT NULL DEFAULT '',
        price REAL,
        available INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (workspace_id, id)
    );
    CREATE TABLE behaviour_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        weight REAL NOT NULL,
        at TEXT NOT NULL,
        UNIQUE (workspace_id, user_id, item_id, kind, at),
        FOREIGN KEY (workspace_id, item_id) REFERENCES catalog_items(workspace_id, id) ON DELETE CASCADE
    );
    CREATE INDEX behaviour_events_user ON behaviour_events(workspace_id, user_id, at);
    CREATE INDEX behaviour_events_time ON behaviour_events(workspace_id, at);
    """
    ],
    # 5: recommenders: item text embeddings (kept, an item is embedded once per text), and a registry of
    # trained model versions per family with a live pointer and its history (recommenders use it first).
    [
        """
    CREATE TABLE item_vectors (
        workspace_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (workspace_id, item_id),
        FOREIGN KEY (workspace_id, item_id) REFERENCES catalog_items(workspace_id, id) ON DELETE CASCADE
    );
    CREATE TABLE model_versions (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        family TEXT NOT NULL,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        report TEXT NOT NULL,
        model BLOB,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (workspace_id, family, version)
    );
    CREATE TABLE model_live (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        family TEXT NOT NULL,
        version INTEGER NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (workspace_id, family)
    );
    CREATE TABLE model_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        family TEXT NOT NULL,
        version INTEGER NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """
    ],
    # 6: a conversation's turns are read back for follow-up questions.
    ["CREATE INDEX answers_conversation ON answers(conversation_id, created_at)"],
    # 7: the service desk: agent and widget keys (widget keys carry their allowed origins), every message
    # of a conversation in order, its place in the human queue, agents' presence, satisfaction ratings;
    # an agent's reply to a handed-off question is recorded on the answer as feedback of kind 'agent'.
    # (SQLite cannot alter a CHECK constraint, so api_keys and feedback are rebuilt.)
    [
        """
    CREATE TABLE api_keys_new (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'client', 'agent', 'widget')),
        origins TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    INSERT INTO api_keys_new (id, workspace_id, name, prefix, key_hash, role, created_at, revoked_at)
        SELECT id, workspace_id, name, prefix, key_hash, role, created_at, revoked_at FROM api_keys;
    DROP TABLE api_keys;
    ALTER TABLE api_keys_new RENAME TO api_keys;
    CREATE TABLE feedback_new (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        rating TEXT NOT NULL CHECK (rating IN ('like', 'dislike', 'agent')),
        comment TEXT NOT NULL DEFAULT '',
        correction TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    INSERT INTO feedback_new SELECT id, workspace_id, answer_id, rating, comment, correction, created_by,
        created_at FROM feedback;
    DROP TABLE feedback;
    ALTER TABLE feedback_new RENAME TO feedback;
    CREATE INDEX feedback_answer ON feedback(answer_id);
    CREATE TABLE desk_conversations (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        visitor_hash TEXT,
        status TEXT NOT NULL CHECK (status IN ('bot', 'waiting', 'open', 'resolved')),
        reason TEXT,
        language TEXT NOT NULL DEFAULT 'zh',
        team TEXT NOT NULL DEFAULT '',
        assignee TEXT,
        contact TEXT NOT NULL DEFAULT '',
        failed_answers INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        queued_at TEXT,
        first_response_at TEXT,
        resolved_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX desk_queue ON desk_conversations(workspace_id, status, queued_at);
    CREATE INDEX desk_visitor ON desk_conversations(workspace_id, visitor_hash, created_at);
    CREATE TABLE desk_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        author TEXT NOT NULL CHECK (author IN ('customer', 'bot', 'agent', 'note', 'system')),
        author_name TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        answer_id TEXT,
        citations TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL
    );
    CREATE INDEX desk_messages_conversation ON desk_messages(conversation_id, id);
    CREATE TABLE desk_agents (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        agent TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('online', 'away', 'offline')),
        teams TEXT NOT NULL DEFAULT '[]',
        languages TEXT NOT NULL DEFAULT '[]',
        seen_at TEXT NOT NULL,
        PRIMARY KEY (workspace_id, agent)
    );
    CREATE TABLE desk_ratings (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
        comment TEXT NOT NULL DEFAULT '',
        agent TEXT,
        release_number INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX desk_ratings_workspace ON desk_ratings(workspace_id, created_at);
    """
    ],
    # 8: people who sign in (admins and agents) and their sessions.
    [
        """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        disabled_at TEXT
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    """
    ],
    # 9: webhooks for external desks and an outbox of their deliveries.
    [
        """
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        events TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        response_status INTEGER,
        error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        delivered_at TEXT
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
    CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, created_at);
    """
    ],
    # 10: each chunk's sentence vectors (float16 rows, in sentence order), which tell the answer chooser
    # which passage states the answer. Existing chunks are queued again so the embedder fills them in.
    [
        """
    CREATE TABLE sentence_vectors (
        chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL,
        vectors BLOB NOT NULL
    );
    UPDATE chunks SET embedded = 0;
    """
    ],
    # 11: vectors get a sequence number that only grows (AUTOINCREMENT never reuses one), so a server
    # whose worker process adds vectors reads only the new rows instead of reloading the workspace.
    [
        """
    CREATE TABLE vectors_11 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        chunk_id TEXT NOT NULL UNIQUE REFERENCES chunks(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    INSERT INTO vectors_11 (chunk_id, workspace_id, vector)
        SELECT chunk_id, workspace_id, vector FROM vectors;
    DROP TABLE vectors;
    ALTER TABLE vectors_11 RENAME TO vectors;
    CREATE INDEX vectors_by_workspace ON vectors(workspace_id, seq);
    """
    ],
    # 12: urgent conversations (an intent marked urgent, such as a complaint) are taken before the others.
    [
        """
    ALTER TABLE desk_conversations ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    """
    ],
    # 13: each answer's confidence in a column, so conversations can be filtered by it without reading JSON.
    [
        """
    ALTER TABLE answers ADD COLUMN confidence REAL;
    UPDATE answers SET confidence = json_extract(record, '$.answer.confidence');
    """
    ],
    # 14: trust: an append-only audit log (hash-chained per workspace; triggers refuse edits), secrets a
    # workspace stores for its tools (sealed with the master key), and who wrote a review.
    [
        """
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome INTEGER NOT NULL,
        source TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
    );
    CREATE INDEX audit_by_workspace ON audit_log(workspace_id, seq);
    CREATE TABLE workspace_secrets (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        sealed TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (workspace_id, name)
    );
    ALTER TABLE reviews ADD COLUMN customer TEXT NOT NULL DEFAULT '';
    CREATE INDEX reviews_customer ON reviews(workspace_id, customer)
    """,
        _append_only_audit,
    ],
    # 15: sentiment models join the model registry as family "sentiment": the same version numbers, their
    # labels kept in the report (``report.labels``), the live pointer and the history in its order; the
    # three tables of their own go. Their gate stays the setting "sentiment_gate".
    [
        """
    INSERT INTO model_versions (workspace_id, family, version, kind, params, report, model, created_by,
        created_at)
        SELECT workspace_id, 'sentiment', version, kind, params, json_set(report, '$.labels', json(labels)),
            model, created_by, created_at FROM sentiment_models;
    INSERT INTO model_live (workspace_id, family, version, since)
        SELECT workspace_id, 'sentiment', version, since FROM sentiment_live;
    INSERT INTO model_events (workspace_id, family, version, action, detail, actor, at)
        SELECT workspace_id, 'sentiment', version, action, detail, actor, at FROM sentiment_events
        ORDER BY id;
    DROP TABLE sentiment_events;
    DROP TABLE sentiment_live;
    DROP TABLE sentiment_models
    """
    ],
    # 16: table models' predictions, for drift reports (newest first by id).
    [
        """
    CREATE TABLE model_predictions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        inputs TEXT NOT NULL,
        output TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX model_predictions_recent ON model_predictions(workspace_id, model, id)
    """
    ],
    # 17: the photo a customer sent with a message (re-encoded, no metadata), for the agent who takes over.
    [
        """
    CREATE TABLE desk_photos (
        message_id INTEGER PRIMARY KEY REFERENCES desk_messages(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        media_type TEXT NOT NULL,
        data BLOB NOT NULL
    )
    """
    ],
    # 18: what several API processes on one database share: the desk's change feed (every change of a
    # conversation, so that other processes' event streams wake up; ``origin`` names the process that
    # wrote it), the rate limits' token buckets (``at``: seconds since the epoch), and a version of each
    # workspace's vectors.
    [
        """
    CREATE TABLE desk_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        origin TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE rate_buckets (
        name TEXT PRIMARY KEY,
        tokens REAL NOT NULL,
        at REAL NOT NULL
    )
    """,
        _vector_versions,
    ],
    # 19: the rate buckets moved to a file of their own (stores/sqlite/limits.py: in this one every
    # request's token waited behind long writes); the change feed is pruned by time; a job names the
    # process that holds it (zhiwen.processes), so a server starting beside others fails only the jobs of
    # processes that are gone.
    [
        """
    DROP TABLE rate_buckets;
    CREATE INDEX desk_changes_at ON desk_changes(at);
    ALTER TABLE jobs ADD COLUMN runner TEXT
    """
    ],
    # 20: a job carries what it needs to run anywhere (zhiwen.tasks): its parameters, and the files it was
    # given (a table, photo archives) until it ends, so a worker on another machine can take it; and how
    # often a worker taken for dead was replaced on it (a job that kills every worker is failed).
    [
        """
    ALTER TABLE jobs ADD COLUMN params TEXT;
    ALTER TABLE jobs ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE job_inputs (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (job_id, name)
    )
    """
    ],
    # 21: several embedders on one database (`zhiwen worker` processes beside the server's own): each
    # holds the chunks it is embedding, so the others take different ones, and one taken for dead (its
    # claim older than ZHIWEN_WORKER_DEAD_AFTER_SECONDS) has its chunks embedded by another.
    [
        """
    ALTER TABLE chunks ADD COLUMN embedding_by TEXT;
    ALTER TABLE chunks ADD COLUMN embedding_since REAL
    """
    ],
    # 22: a near-duplicate is looked up by its LSH buckets (zhiwen.text.fingerprints) in an index, instead
    # of reading every signature of the workspace at each upload; the stored signatures are bucketed.
    [
        """
    CREATE TABLE chunk_buckets (
        chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL,
        bucket BLOB NOT NULL
    );
    CREATE INDEX chunk_buckets_lookup ON chunk_buckets(workspace_id, bucket);
    CREATE INDEX chunk_buckets_chunk ON chunk_buckets(chunk_id)
    """,
        _bucket_signatures,
    ],
    # 23: PostgreSQL's keyword postings are read from their primary key's index alone, which now carries
    # each posting's tf and chunk length (stores/postgres/db.py, `_POSTGRESQL_STEPS`; keyword search
    # twice as fast at a million chunks). SQLite's keyword index is FTS5: nothing to do here.
    [],
]


class Database(SharedConnection[sqlite3.Connection]):
    """The embedded SQLite database (:class:`SharedConnection`: one connection, nesting transactions)."""

    begin = "BEGIN IMMEDIATE"

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":  # a new data dir is this user's alone: it holds customers' data
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        super().__init__(self._conn, self._conn.execute)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        # Deleted rows are overwritten, not just unlinked: an erased customer's words must not stay
        # readable in free pages of the file.
        self._conn.execute("PRAGMA secure_delete = ON")
        self.migrate()

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, migrations: Sequence[Sequence[Migration]] = MIGRATIONS) -> None:
        with self._lock:
            for version, steps in enumerate(migrations, start=1):
                if self.schema_version >= version:
                    continue
                with self.transaction():
                    if self.schema_version >= version:  # another process upgraded it meanwhile
                        continue
                    for step in steps:
                        if callable(step):
                            step(self._conn)
                            continue
                        for statement in statements(step):
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {version}")

    def columns(self) -> dict[str, list[tuple[str, bool]]]:
        """Every table's columns, each with whether it may hold text (what a search for a customer's words
        reads; FTS5's columns have no type)."""
        with self.reading() as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return {
                t: [(r[1], r[2] in ("TEXT", "")) for r in conn.execute(f"PRAGMA table_info({t})")]
                for t in tables
            }

    def engine_problems(self) -> list[str]:
        with self.reading() as conn:
            found = [f"sqlite: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
            return found + [
                f"row {row[1]} of {row[0]} points to a missing {row[2]} row"
                for row in conn.execute("PRAGMA foreign_key_check")
            ]

    def forget_deleted(self) -> None:
        """Truncate the write-ahead log, which still holds deleted rows' pages as they were (the file's own
        pages are overwritten as rows are deleted: ``secure_delete``)."""
        with self.reading() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
