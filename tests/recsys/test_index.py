"""FAISS index: exact search agrees with numpy, ANN recall against exact search, exclusion, I/O."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from alignrec.cli import app
from recsys.index import ItemIndex, build_index, load_index, save_index, search
from recsys.recommender import Recommender


@pytest.fixture(autouse=True)
def one_thread():
    # The machine is shared; OpenMP spinning on busy cores makes faiss much slower, not faster.
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def clustered(num: int = 5000, num_queries: int = 200, dim: int = 32, clusters: int = 50, seed=0):
    """Items and queries drawn around shared cluster centres (the shape ANN indexes exploit)."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((clusters, dim))
    items = centres[rng.integers(clusters, size=num)] + rng.standard_normal((num, dim))
    queries = centres[rng.integers(clusters, size=num_queries)] + rng.standard_normal((num_queries, dim))
    return items.astype(np.float32), queries.astype(np.float32)


def numpy_scores(items: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """(Q, N) scores, higher is better: inner product, or minus the squared distance."""
    if metric == "ip":
        return queries @ items.T
    return -((queries[:, None, :] - items[None, :, :]) ** 2).sum(-1)


def exact_top(items, queries, metric, k):
    return np.argsort(-numpy_scores(items, queries, metric), axis=1, kind="stable")[:, :k]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


@pytest.fixture(scope="module")
def data():
    return clustered()


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_flat_ranks_as_numpy_does(data, metric):
    items, queries = data
    D, I = search(build_index(items, metric, "Flat"), queries, 10)
    assert recall(I, exact_top(items, queries, metric, 10)) == 1.0
    expected = np.take_along_axis(numpy_scores(items, queries, metric), I, axis=1)
    # faiss returns inner products, or squared L2 distances (lower is better).
    np.testing.assert_allclose(D, expected if metric == "ip" else -expected, rtol=1e-4, atol=1e-3)
    best_first = D if metric == "ip" else -D
    assert (np.diff(best_first, axis=1) <= 1e-5).all()


# Thresholds sit a little under what 4 seeds of `clustered` gave (5,000 items, d=32, k=10):
# HNSW32 0.995-1.0 (ip), 1.0 (l2); IVF64,PQ16np nprobe 8: 0.748-0.766 (ip), 0.882-0.902 (l2).
@pytest.mark.parametrize(
    "metric, factory, options, threshold",
    [
        ("ip", "HNSW32", {}, 0.97),
        ("l2", "HNSW32", {}, 0.97),
        ("ip", "IVF64,PQ16np", {"nprobe": 8}, 0.70),
        ("l2", "IVF64,PQ16np", {"nprobe": 8}, 0.85),
    ],
)
def test_ann_recall_against_exact_search(data, metric, factory, options, threshold):
    items, queries = data
    _, I = search(build_index(items, metric, factory, **options), queries, 10)
    assert recall(I, exact_top(items, queries, metric, 10)) >= threshold


def test_search_parameters_reach_the_index(data):
    items, _ = data
    ivf = build_index(items[:1000], "l2", "IVF16,Flat", ids=np.arange(1000) + 7, nprobe=5)
    assert faiss.extract_index_ivf(ivf).nprobe == 5
    hnsw = build_index(items[:1000], "ip", "HNSW16", ef_search=40)
    assert faiss.downcast_index(hnsw).hnsw.efSearch == 40


def test_ids_are_returned_instead_of_positions(data):
    items, queries = data
    ids = np.arange(len(items), dtype=np.int64) * 10 + 3
    _, I = search(build_index(items, "ip", "Flat", ids=ids), queries, 5)
    _, positions = search(build_index(items, "ip", "Flat"), queries, 5)
    np.testing.assert_array_equal(I, ids[positions])
    # Exclusion works in the id space too, including ids beyond every excluded one.
    seen = [positions[q, :3] for q in range(len(queries))]
    _, I = search(build_index(items, "ip", "Flat", ids=ids), queries, 5, exclude=[ids[s] for s in seen])
    _, expected = search(build_index(items, "ip", "Flat"), queries, 5, exclude=seen)
    np.testing.assert_array_equal(I, ids[expected])


@pytest.mark.parametrize("as_sparse", [True, False])
def test_exclusion_skips_seen_items_and_keeps_k(data, as_sparse):
    items, queries = data
    index = build_index(items, "ip", "Flat")
    _, top = search(index, queries, 60)
    rng = np.random.default_rng(1)
    # Exclude a random half of each query's top 30 (so the filter has real work to do).
    seen = [row[:30][rng.random(30) < 0.5] for row in top]
    exclude = seen
    if as_sparse:
        rows = np.repeat(np.arange(len(seen)), [len(s) for s in seen])
        exclude = sp.csr_array(
            (np.ones(len(rows)), (rows, np.concatenate(seen))), shape=(len(queries), len(items))
        )
    D, I = search(index, queries, 10, exclude=exclude)
    assert I.shape == D.shape == (len(queries), 10)
    for row, found, skipped in zip(top, I, seen, strict=True):
        expected = [i for i in row if i not in set(skipped)][:10]
        assert found.tolist() == expected


def test_exclusion_when_too_few_items_remain():
    items, queries = clustered(num=8, num_queries=2, dim=4)
    index = build_index(items, "l2", "Flat")
    D, I = search(index, queries, 5, exclude=[np.arange(6), np.array([], dtype=np.int64)])
    assert sorted(I[0, :2].tolist()) == [6, 7] and (I[0, 2:] == -1).all()
    assert np.isinf(D[0, 2:]).all() and (D[0, 2:] > 0).all()
    assert (I[1] >= 0).all()
    # k larger than the index: padded with -1, with or without exclusion.
    assert (search(index, queries, 10)[1][:, 8:] == -1).all()
    assert (search(index, queries, 10, exclude=[np.array([0]), np.array([1])])[1][:, 7:] == -1).all()


@pytest.mark.parametrize(
    "factory, num, dim, message",
    [
        ("IVF100,PQ4", 50, 8, "training vectors for 100 IVF lists"),
        ("IVF4,PQ3", 300, 8, "not divisible by the 3 PQ"),
        ("IVF4,PQ4", 100, 8, "at least 256 training vectors"),
        ("NotAFactory", 50, 8, "faiss cannot build it"),
    ],
)
def test_bad_factory_or_too_little_data_raises(factory, num, dim, message):
    items, _ = clustered(num=num, num_queries=1, dim=dim)
    with pytest.raises(ValueError, match=message):
        build_index(items, "ip", factory)


def test_bad_inputs_raise():
    items, queries = clustered(num=20, num_queries=2, dim=4)
    with pytest.raises(ValueError, match="metric"):
        build_index(items, "cosine")
    with pytest.raises(ValueError, match="NaN"):
        build_index(np.full((3, 4), np.nan), "ip")
    with pytest.raises(ValueError, match="dimension 4"):
        search(build_index(items, "ip"), queries[:, :3], 2)
    with pytest.raises(ValueError, match="distinct ids"):
        build_index(items, "ip", ids=np.zeros(20))


def test_save_load_round_trip(tmp_path, data):
    items, queries = data
    index = build_index(items[:2000], "l2", "IVF32,Flat", ids=np.arange(2000) + 5, nprobe=4)
    save_index(index, tmp_path / "sub" / "items.faiss")
    loaded = load_index(tmp_path / "sub" / "items.faiss")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["items.faiss"]  # no temp left over
    np.testing.assert_array_equal(search(loaded, queries, 10)[1], search(index, queries, 10)[1])
    with pytest.raises(FileNotFoundError):
        load_index(tmp_path / "missing.faiss")


def test_item_index_maps_back_to_original_ids(tmp_path, data):
    items, queries = data
    names = [f"item-{i}" for i in range(500)]
    item_index = ItemIndex.build(items[:500], "ip", "HNSW32", item_ids=names)
    item_index.save(tmp_path)
    loaded = ItemIndex.load(tmp_path)
    assert (loaded.metric, loaded.factory, loaded.dim) == ("ip", "HNSW32", 32)
    _, I = loaded.search(queries[:3], 4, exclude=[np.array([0]), np.array([]), np.array([1, 2])])
    _, exact = search(build_index(items[:500], "ip"), queries[:3], 4, exclude=[[0], [], [1, 2]])
    assert loaded.original_ids(I) == [[names[i] for i in row] for row in exact]


def table_rows(output: str) -> list[list[str]]:
    """Cells of the body rows of a rich table (query, rank, item, score)."""
    lines = [line for line in output.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines]


def test_cli_build_and_search_from_vectors(tmp_path, data):
    items, queries = data
    np.save(tmp_path / "items.npy", items[:300])
    np.save(tmp_path / "queries.npy", queries[:5])
    (tmp_path / "ids.txt").write_text("\n".join(f"sku{i}" for i in range(300)))
    out = tmp_path / "index"

    def invoke(*args: str):
        return CliRunner().invoke(app, ["index", *args], env={"COLUMNS": "200"})

    built = invoke(
        "build",
        "--vectors",
        str(tmp_path / "items.npy"),
        "--item-ids",
        str(tmp_path / "ids.txt"),
        "--metric",
        "l2",
        "--factory",
        "Flat",
        "--out",
        str(out),
    )
    assert built.exit_code == 0, built.output
    assert "1.000" in built.output  # Flat is exact
    found = invoke("search", str(out), "--queries", str(tmp_path / "queries.npy"), "--row", "2", "-k", "3")
    assert found.exit_code == 0, found.output
    expected = exact_top(items[:300], queries[2:3], "l2", 3)[0]
    assert [cells[2] for cells in table_rows(found.output)] == [f"sku{i}" for i in expected]


def test_cli_index_of_a_trained_model_answers_like_recommend(tmp_path):
    run = tmp_path / "run"
    trained = CliRunner().invoke(
        app, ["train", "-m", "bpr", "--epochs", "1", "--dim", "8", "--no-track", "--out", str(run)]
    )
    assert trained.exit_code == 0, trained.output
    recommender = Recommender.load(run / "bpr" / "recommender")
    user = str(recommender.user_ids[3])
    built = CliRunner().invoke(
        app,
        [
            "index",
            "build",
            "--run",
            str(run),
            "-m",
            "bpr",
            "--factory",
            "Flat",
            "--out",
            str(tmp_path / "index"),
        ],
    )
    assert built.exit_code == 0, built.output
    item_index = ItemIndex.load(tmp_path / "index")
    assert item_index.metric == recommender.model.metric
    rows = [recommender.user_index(user)]
    _, found = item_index.search(
        recommender.model.user_vectors().detach().numpy()[rows], 5, exclude=recommender.known[rows]
    )
    exact = recommender.recommend(user, 5)
    assert exact.source == "exact"
    assert item_index.original_ids(found)[0] == exact.items
    searched = CliRunner().invoke(
        app,
        [
            "index",
            "search",
            str(tmp_path / "index"),
            "--run",
            str(run),
            "-m",
            "bpr",
            "--user",
            user,
            "-k",
            "5",
        ],
        env={"COLUMNS": "200"},
    )
    assert searched.exit_code == 0, searched.output
    assert [cells[2] for cells in table_rows(searched.output)] == exact.items
    assert "(index)" in searched.output
    through = CliRunner().invoke(
        app,
        [
            "recommend",
            "--run",
            str(run),
            "-m",
            "bpr",
            "--user",
            user,
            "-k",
            "5",
            "--index",
            str(tmp_path / "index"),
        ],
        env={"COLUMNS": "200"},
    )
    assert through.exit_code == 0, through.output
    assert "index)" in through.output  # the title says which path answered
    assert [cells[1] for cells in table_rows(through.output)] == exact.items  # rank, item, score


def test_ef_construction_reaches_the_hnsw_graph(data):
    import faiss

    items, _ = data
    index = build_index(items[:500], "ip", "HNSW16", ef_construction=120)
    assert faiss.downcast_index(index).hnsw.efConstruction == 120
    with pytest.raises(ValueError, match="not an HNSW index"):
        build_index(items[:500], "ip", "Flat", ef_construction=100)
