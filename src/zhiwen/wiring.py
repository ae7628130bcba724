"""The one place that chooses concrete implementations from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from threadpoolctl import threadpool_limits

from zhiwen.adapters.background import (
    BackgroundProcess,
    BackgroundThread,
    ElsewhereBackground,
    embed_at_lowest_priority,
)
from zhiwen.adapters.embedders import (
    BUNDLED_QUESTION_ADAPTER,
    BundledE5Embedder,
    OpenAICompatibleEmbedder,
    QueryCache,
)
from zhiwen.adapters.image_features import OcrBackboneFeatures
from zhiwen.adapters.jobs import ThreadJobRunner
from zhiwen.adapters.llm import LocalGGUFLLM, OpenAICompatibleLLM
from zhiwen.adapters.ocr import PaddleOcr
from zhiwen.adapters.owner_lock import FileOwnerLock
from zhiwen.adapters.photos import JpegPhotoCleaner
from zhiwen.adapters.secret_box import FernetSecretBox, master_keys
from zhiwen.adapters.secret_box import new_key as new_master_key
from zhiwen.config import Settings
from zhiwen.errors import InvalidInput
from zhiwen.ports import (
    LLM,
    AnswerStore,
    Background,
    DocumentStore,
    Embedder,
    JobRunner,
    JobStore,
    Ocr,
    OwnerLock,
    RateBuckets,
    SecretBox,
    VectorIndex,
    WorkspaceStore,
)
from zhiwen.processes import QUEUED, this_process
from zhiwen.services.accounts.keys import KeyService
from zhiwen.services.accounts.users import UserService
from zhiwen.services.answers.config import AnswerConfig
from zhiwen.services.answers.feedback import FeedbackService
from zhiwen.services.answers.service import AnswerLimits, AnswerService
from zhiwen.services.backends import Backend, redacted
from zhiwen.services.background import BackgroundWork
from zhiwen.services.desk.desk import DeskService
from zhiwen.services.desk.webhooks import WebhookService
from zhiwen.services.intents.actions import IntentRouter, secrets_from_environment
from zhiwen.services.intents.service import IntentService
from zhiwen.services.knowledge.curated import CuratedService
from zhiwen.services.knowledge.embedding import EmbeddingWorker
from zhiwen.services.knowledge.ingest import IngestService
from zhiwen.services.knowledge.ingest_jobs import IngestJobs
from zhiwen.services.knowledge.retrieve import Retriever
from zhiwen.services.lifecycle.evaluate import EvalService
from zhiwen.services.lifecycle.golden_sets import GoldenSetService
from zhiwen.services.lifecycle.release import ReleaseService
from zhiwen.services.lifecycle.targets import Targets
from zhiwen.services.lifecycle.tune import TuneService
from zhiwen.services.models.service import TableModels
from zhiwen.services.recommend.catalog import CatalogService
from zhiwen.services.recommend.release import RecommenderModelService
from zhiwen.services.recommend.service import RecommendationService
from zhiwen.services.reviews.insights import ReviewInsights
from zhiwen.services.reviews.live_models import LiveModels, ReviewVectors
from zhiwen.services.reviews.sentiment_release import SentimentModelService
from zhiwen.services.reviews.service import ReviewService
from zhiwen.services.trust.audit import AuditService
from zhiwen.services.trust.customer_data import CustomerDataService
from zhiwen.services.trust.privacy import PrivacyPolicy
from zhiwen.services.trust.secrets import SecretService
from zhiwen.services.vision.service import ProductRecognition
from zhiwen.stores.keyword_search import KeywordSearch
from zhiwen.stores.sql import SqlDatabase
from zhiwen.stores.sqlite import backup as store_backups
from zhiwen.stores.sqlite import integrity
from zhiwen.stores.sqlite.answers import SqliteAnswerStore
from zhiwen.stores.sqlite.audit import SqliteAuditStore
from zhiwen.stores.sqlite.catalog import SqliteCatalogStore
from zhiwen.stores.sqlite.curated import SqliteCuratedStore
from zhiwen.stores.sqlite.customers import SqliteCustomerDataStore
from zhiwen.stores.sqlite.db import Database
from zhiwen.stores.sqlite.desk import SqliteDeskStore
from zhiwen.stores.sqlite.documents import SqliteDocumentStore
from zhiwen.stores.sqlite.evals import SqliteEvalStore
from zhiwen.stores.sqlite.feedback import SqliteFeedbackStore
from zhiwen.stores.sqlite.golden import SqliteGoldenStore
from zhiwen.stores.sqlite.jobs import SqliteJobStore
from zhiwen.stores.sqlite.keyword import SqliteKeywordIndex
from zhiwen.stores.sqlite.limits import RATE_LIMITS_FILE, SqliteRateBuckets
from zhiwen.stores.sqlite.models import SqliteModelRegistry, SqlitePredictionLog
from zhiwen.stores.sqlite.releases import SqliteReleaseStore
from zhiwen.stores.sqlite.reviews import SqliteReviewStore
from zhiwen.stores.sqlite.secrets import SqliteSecretStore
from zhiwen.stores.sqlite.users import SqliteUserStore
from zhiwen.stores.sqlite.vectors import NumpyVectorIndex, VectorRows
from zhiwen.stores.sqlite.webhooks import SqliteWebhookStore
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore
from zhiwen.tasks import execute, submit

# The embedded store's backup tool (`zhiwen backup`): SQLite's online backup. PostgreSQL has its own.
__all__ = [
    "Services",
    "build_background",
    "build_llm",
    "build_services",
    "described_backends",
    "new_master_key",
    "store_backups",
]


@dataclass
class Services:
    settings: Settings
    db: SqlDatabase
    workspaces: WorkspaceStore
    documents: DocumentStore
    keywords: KeywordSearch
    vectors: VectorIndex
    jobs: JobStore
    answers: AnswerStore
    embedder: Embedder
    llm: LLM | None
    embedding_worker: EmbeddingWorker
    ingest: IngestService
    retriever: Retriever
    answerer: AnswerService
    keys: KeyService
    job_runner: JobRunner
    ingest_jobs: IngestJobs
    targets: Targets
    curated: CuratedService
    golden: GoldenSetService
    evaluator: EvalService
    feedback: FeedbackService
    releases: ReleaseService
    tuner: TuneService
    reviews: ReviewService
    sentiment: SentimentModelService
    insights: ReviewInsights
    catalog: CatalogService
    recommenders: RecommenderModelService
    recommendations: RecommendationService
    desk: DeskService
    rate_buckets: RateBuckets
    owner_lock: OwnerLock
    users: UserService
    webhooks: WebhookService
    intents: IntentService
    table_models: TableModels
    intent_router: IntentRouter
    secret_box: SecretBox
    secrets: SecretService
    audit: AuditService
    privacy: PrivacyPolicy
    customers: CustomerDataService
    ocr: Ocr
    vision: ProductRecognition

    def check_store(self) -> list[str]:
        """Every inconsistency in the store, in words (:mod:`zhiwen.stores.sqlite.integrity`), and every
        fitted model that no longer fits how questions are embedded."""
        found = integrity.problems(self.db, self.keywords, self.settings.data_dir / "spool")
        for workspace in self.workspaces.list_workspaces():
            found += [
                f"workspace {workspace.name}: the {problem}: run `zhiwen calibrate` (and `zhiwen rerank "
                "train` for a re-ranker) again, then make a release"
                for problem in self.targets.fitted_elsewhere(workspace.id)
            ]
        return found

    def close(self) -> None:
        self.webhooks.stop()
        self.intent_router.close()
        self.job_runner.shutdown()
        self.retriever.close()
        self.rate_buckets.close()
        self.db.close()


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def build_embedder(settings: Settings) -> Embedder:
    if settings.embed_base_url:
        return OpenAICompatibleEmbedder(
            settings.embed_base_url, settings.embed_model, _plain(settings.embed_api_key)
        )
    return BundledE5Embedder(
        num_threads=settings.embed_threads, question_adapter=question_adapter_path(settings.question_adapter)
    )


def question_adapter_path(setting: str) -> Path | None:
    named = setting.strip().lower()
    if named in ("", "none", "off"):
        return None
    if named == "bundled":
        return BUNDLED_QUESTION_ADAPTER
    return Path(setting.strip()).expanduser().resolve()


def described_backends(settings: Settings) -> list[Backend]:
    """The backends :func:`build_embedder` and :func:`build_llm` make of ``settings``, without API keys."""
    embedding = (
        Backend("embedding", "openai-compatible", settings.embed_model, redacted(settings.embed_base_url))
        if settings.embed_base_url
        else Backend("embedding", "bundled", _bundled_model(settings), None)
    )
    if settings.llm_gguf is not None:
        llm = Backend("llm", "gguf", settings.llm_gguf.name, None)
    elif settings.llm_base_url:
        llm = Backend("llm", "openai-compatible", settings.llm_model, redacted(settings.llm_base_url))
    else:
        llm = Backend("llm", "none", "", None)
    return [embedding, llm]


def _bundled_model(settings: Settings) -> str:
    adapter = question_adapter_path(settings.question_adapter)
    if adapter is None:
        return "multilingual-e5-small"
    named = "bundled" if adapter == BUNDLED_QUESTION_ADAPTER else adapter.name
    return f"multilingual-e5-small, question adapter {named}"


def build_llm(settings: Settings) -> LLM | None:
    if settings.llm_gguf is not None:
        return LocalGGUFLLM(settings.llm_gguf, threads=settings.embed_threads)
    if settings.llm_base_url:
        return OpenAICompatibleLLM(
            settings.llm_base_url, settings.llm_model, _plain(settings.llm_api_key), settings.llm_timeout_s
        )
    return None


@dataclass
class _Database:
    """The configured database and what depends on which engine it is."""

    db: SqlDatabase
    keywords: KeywordSearch
    rate_buckets: RateBuckets
    owner_lock: OwnerLock
    vectors: Callable[[int], VectorRows]  # the vector index, for the embedder's dimension
    searches_in_server: bool = False  # keyword and vector searches run in the database's processes


def _without_driver(error: ImportError) -> InvalidInput:
    """psycopg is an extra, imported only when PostgreSQL is used."""
    return InvalidInput(f"PostgreSQL's driver is missing ({error}): pip install 'zhiwen[postgres]'")


def _database(settings: Settings) -> _Database:
    if settings.database_url is not None:
        try:
            from zhiwen.stores.postgres.db import PgDatabase
            from zhiwen.stores.postgres.keyword import PgKeywordIndex
            from zhiwen.stores.postgres.limits import PgRateBuckets
            from zhiwen.stores.postgres.owner_lock import PgOwnerLock
            from zhiwen.stores.postgres.vectors import PgVectorIndex
        except ImportError as error:
            raise _without_driver(error) from None
        url = settings.database_url.get_secret_value()
        pg = PgDatabase(url)
        return _Database(
            pg,
            PgKeywordIndex(pg),
            PgRateBuckets(url),
            PgOwnerLock(url),
            lambda dim: PgVectorIndex(pg, dim, settings.pgvector_ef_search),
            searches_in_server=True,
        )
    db = Database(settings.db_path)
    return _Database(
        db,
        SqliteKeywordIndex(db),
        SqliteRateBuckets(settings.data_dir / RATE_LIMITS_FILE),
        FileOwnerLock(settings.data_dir / "background.lock"),
        lambda dim: NumpyVectorIndex(db, dim),
    )


def move_to_postgresql(
    settings: Settings, url: str, progress: Callable[[str, int, int], None]
) -> list[tuple[str, int, int]]:
    """`zhiwen migrate --to`: the data dir's SQLite store copied whole into an empty PostgreSQL database;
    (table, rows in SQLite, rows in PostgreSQL) for each table (:mod:`zhiwen.stores.postgres.move`)."""
    try:
        from zhiwen.stores.postgres.move import move_store
    except ImportError as error:
        raise _without_driver(error) from None
    return [(c.table, c.source, c.target) for c in move_store(settings.db_path, url, progress)]


def build_services(
    settings: Settings,
    embedder: Embedder | None = None,
    llm: LLM | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Services:
    """``secrets`` are what intents' tools may send (default: the ``ZHIWEN_SECRET_*`` environment)."""
    # The embedder runs its own threads; BLAS threads competing for the same 2 cores made dense queries
    # 2x slower at p50 and 8x at p95 (DESIGN.md), so numpy's BLAS gets one thread.
    threadpool_limits(limits=1, user_api="blas")
    database = _database(settings)
    db, keywords = database.db, database.keywords
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys, spool and caches live there
    master_key = settings.master_key.get_secret_value() if settings.master_key else None
    box = FernetSecretBox(master_keys(master_key, settings.data_dir / "master.key"))
    workspace_secrets = SecretService(SqliteSecretStore(db), box)
    embedder = QueryCache(embedder or build_embedder(settings))
    documents = SqliteDocumentStore(db)
    vectors = database.vectors(embedder.dim)
    worker = EmbeddingWorker(
        documents, vectors, embedder, settings.embed_batch, settings.worker_dead_after_seconds
    )
    workspaces = SqliteWorkspaceStore(db)
    privacy = PrivacyPolicy(workspaces)
    ocr = PaddleOcr(settings.data_dir / "cache" / "ocr")  # one model per process, for files and photos
    ingest = IngestService(
        documents,
        keywords,
        vectors,
        max_chars=settings.chunk_max_chars,
        max_bytes=settings.max_upload_bytes,
        pii_kinds=privacy.ingested_kinds,
        ocr=ocr,
    )
    retriever = Retriever(
        documents,
        keywords,
        vectors,
        embedder,
        candidates=settings.candidates,
        searches_beside=database.searches_in_server,
    )
    answers = SqliteAnswerStore(db)
    jobs = SqliteJobStore(db)
    llm = llm if llm is not None else build_llm(settings)
    defaults = AnswerConfig(
        candidates=settings.candidates,
        top_k=settings.top_k,
        handoff_below=settings.handoff_below,
        faq_direct_above=settings.faq_direct_above,
    )
    release_store = SqliteReleaseStore(db, keywords, vectors)
    targets = Targets(workspaces, release_store, defaults, lambda: embedder.question_space)
    catalog_store = SqliteCatalogStore(db)
    model_registry = SqliteModelRegistry(db)
    recommenders = RecommenderModelService(catalog_store, model_registry, workspaces, embedder)
    recommendations = RecommendationService(catalog_store, recommenders)
    golden = GoldenSetService(SqliteGoldenStore(db))
    intents = IntentService(workspaces, model_registry, documents, golden, embedder)
    table_models = TableModels(model_registry, workspaces, SqlitePredictionLog(db))
    intent_router = IntentRouter(
        intents,
        secrets_from_environment() if secrets is None else secrets,
        workspace_secrets=workspace_secrets.values,
    )
    answerer = AnswerService(
        retriever,
        answers,
        targets,
        AnswerLimits(settings.max_question_chars, settings.llm_max_tokens),
        llm,
        recommendations.related_products,
        intent_router,
        privacy,
    )
    curated = CuratedService(SqliteCuratedStore(db), documents, ingest, worker)
    evaluator = EvalService(answerer, golden, SqliteEvalStore(db), llm)
    releases = ReleaseService(release_store, workspaces, targets, evaluator, vectors, worker)
    review_store = SqliteReviewStore(db)
    review_vectors = ReviewVectors(review_store, embedder)
    live_models = LiveModels(model_registry, review_vectors)
    job_runner = _job_runner(settings)
    feedback_store = SqliteFeedbackStore(db)
    reviews = ReviewService(review_store, answers, review_vectors, live_models)
    webhooks = WebhookService(SqliteWebhookStore(db), box, privacy)
    services = Services(
        settings=settings,
        db=db,
        workspaces=workspaces,
        documents=documents,
        keywords=keywords,
        vectors=vectors,
        jobs=jobs,
        answers=answers,
        embedder=embedder,
        llm=llm,
        embedding_worker=worker,
        ingest=ingest,
        retriever=retriever,
        answerer=answerer,
        keys=KeyService(workspaces),
        job_runner=job_runner,
        ingest_jobs=IngestJobs(
            jobs, ingest, settings.data_dir / "spool", settings.max_upload_bytes, job_runner, submit
        ),
        targets=targets,
        curated=curated,
        golden=golden,
        evaluator=evaluator,
        feedback=FeedbackService(feedback_store, answers, curated, golden, embedder, privacy),
        releases=releases,
        tuner=TuneService(answerer, golden, releases, evaluator, targets, retriever, documents, embedder),
        reviews=reviews,
        sentiment=SentimentModelService(
            review_store, model_registry, workspaces, review_vectors, live_models
        ),
        insights=ReviewInsights(review_store, review_vectors),
        catalog=CatalogService(catalog_store),
        recommenders=recommenders,
        recommendations=recommendations,
        rate_buckets=database.rate_buckets,
        owner_lock=database.owner_lock,
        desk=DeskService(
            SqliteDeskStore(db),
            answers,
            answerer,
            feedback_store,
            workspaces,
            reviews,
            webhooks,
            privacy=privacy,
            photos=JpegPhotoCleaner(),
        ),
        users=UserService(SqliteUserStore(db)),
        webhooks=webhooks,
        intents=intents,
        table_models=table_models,
        intent_router=intent_router,
        secret_box=box,
        secrets=workspace_secrets,
        audit=AuditService(SqliteAuditStore(db)),
        privacy=privacy,
        ocr=ocr,
        vision=ProductRecognition(model_registry, workspaces, OcrBackboneFeatures(), ocr),
        customers=CustomerDataService(SqliteCustomerDataStore(db, keywords), curated, vectors, privacy),
    )
    if isinstance(job_runner, ThreadJobRunner):
        job_runner.bind(lambda job_id: execute(services, job_id, this_process()))
    return services


def _job_runner(settings: Settings) -> JobRunner:
    """Threads of this process run its jobs; with ``ZHIWEN_REDIS_URL``, ``zhiwen worker`` processes do."""
    if settings.redis_url is None:
        return ThreadJobRunner()
    from zhiwen.adapters.redis_jobs import RedisJobRunner  # dramatiq only for those who use Redis

    return RedisJobRunner(settings.redis_url.get_secret_value(), settings.worker_dead_after_seconds)


def worker_name() -> str:
    """How a ``zhiwen worker`` process names itself as a job's holder (``queue:<process>``)."""
    return f"{QUEUED}:{this_process()}"


def run_worker(services: Services, threads: int, stop: threading.Event, embed: bool = True) -> None:
    """What ``zhiwen worker`` does: run the jobs queued in Redis, ``threads`` at a time, and (``embed``)
    embed waiting chunks beside them, until ``stop``."""
    from zhiwen.adapters.redis_jobs import RedisJobRunner

    runner = services.job_runner
    if not isinstance(runner, RedisJobRunner):
        raise InvalidInput(
            "zhiwen worker runs the jobs queued in Redis: set ZHIWEN_REDIS_URL=redis://host:port/0 here "
            "and for `zhiwen serve` (without it, the API process runs its jobs itself)"
        )
    me = worker_name()
    embedder = threading.Thread(
        target=embed_at_lowest_priority,
        args=(BackgroundWork(None, services.embedding_worker), stop),
        name="zhiwen-embedding",
        daemon=True,
    )
    if embed:
        embedder.start()
    # Each thread holds jobs in its own name: a copy of a message this process is running, handed to
    # another of its threads, must find the job held by someone else (and wait).
    try:
        runner.work(
            lambda job_id, last_try: execute(services, job_id, f"{me}/{threading.get_ident()}", last_try),
            threads,
            stop,
        )
    finally:
        stop.set()
        if embedder.is_alive():
            embedder.join()


def build_background(services: Services, mode: str = "thread", embed: bool = True) -> Background:
    """The background loop in a worker process (what `zhiwen serve` runs), or in a thread of this one,
    or ``elsewhere``: in another process on the same database (an API-only process). A worker process
    builds its own services and model from the settings, so it always embeds."""
    if mode == "elsewhere":
        return ElsewhereBackground()
    if mode == "process":
        return BackgroundProcess(services.settings, on_restart=services.ingest_jobs.requeue_running)
    embedding = services.embedding_worker if embed else None
    return BackgroundThread(BackgroundWork(services.ingest_jobs, embedding))
