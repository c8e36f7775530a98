import pytest
import torch

from sage_nb.data.index import HIST_EDGES, FeatureIndex


@pytest.fixture(scope="module")
def brute(target, small_contexts):
    """All activations of the small corpus, computed directly (no mining code involved)."""
    ids = torch.as_tensor(small_contexts, dtype=torch.long)
    return torch.cat([target.encode(ids[i : i + 16]).acts for i in range(0, len(ids), 16)])  # [n, T, F]


def test_top_contexts_match_a_brute_force_ranking(small_index, brute):
    per_context_max = brute.max(dim=1).values  # [n, F]
    expected = torch.topk(per_context_max, 5, dim=0).values
    assert torch.allclose(small_index.top_values, expected, atol=1e-4)
    for f in small_index.live_features()[:50]:
        ctx = int(small_index.top_context[0, f])
        assert per_context_max[ctx, f] == pytest.approx(float(small_index.top_values[0, f]), abs=1e-4)
        assert torch.allclose(small_index.top_acts[0, f].float(), brute[ctx, :, f], atol=1e-2, rtol=1e-3)


def test_density_and_histogram_count_every_firing(target, small_index, brute, small_contexts):
    fires = (brute > 0).sum(dim=(0, 1))
    assert torch.equal(small_index.fire_counts, fires)
    body = torch.as_tensor(small_contexts[:, 1:])  # BOS excluded, special tokens (document separators) too
    special = torch.tensor(target.tokenizer.all_special_ids)
    assert small_index.n_tokens == int((~torch.isin(body, special)).sum())
    in_range = ((brute > 0) & (brute >= HIST_EDGES[0])).sum(dim=(0, 1))
    assert (small_index.hist_counts.sum(dim=1) >= in_range).all()
    assert torch.equal(small_index.hist_counts.sum(dim=1), fires)


def test_samples_are_activating_contexts(small_index, brute):
    for f in small_index.live_features()[:50]:
        for slot in range(small_index.sample_values.shape[0]):
            value = float(small_index.sample_values[slot, f])
            if value > 0:
                ctx = int(small_index.sample_context[slot, f])
                assert brute[ctx, :, f].max() == pytest.approx(value, abs=1e-4)


def test_exemplar_windows_contain_the_peak(target, small_index):
    f = small_index.live_features()[0]
    (ex,) = small_index.exemplars(f, target.token_strings, k=1)
    assert ex.max_act == pytest.approx(float(small_index.top_values[0, f]), rel=1e-2)
    assert max(ex.acts) == ex.max_act
    context_text = "".join(target.token_strings(small_index.contexts[ex.context_index, 1:].tolist()))
    assert "".join(ex.tokens) in context_text


def test_feature_data_and_unknown_feature(target, small_index):
    f = small_index.live_features()[0]
    fd = small_index.feature_data(target, f)
    assert fd.index == f and fd.top and fd.hist_counts and len(fd.hist_edges) == len(fd.hist_counts) + 1
    assert 0 < fd.density < 1
    with pytest.raises(IndexError, match="Unknown feature"):
        small_index.feature_data(target, small_index.d_sae)


def test_index_round_trips_through_disk(small_index, tmp_path):
    path = small_index.save(tmp_path / "index.pt")
    loaded = FeatureIndex.load(path)
    assert torch.equal(loaded.top_values, small_index.top_values)
    assert (loaded.contexts == small_index.contexts).all()
    assert loaded.meta == small_index.meta


def test_to_frame_has_one_row_per_feature(small_index):
    frame = small_index.to_frame()
    assert len(frame) == small_index.d_sae
    assert (frame["fires"] > 0).sum() == len(small_index.live_features())
    assert frame["density"].between(0, 1).all()
