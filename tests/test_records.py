import pytest

from papersift.errors import PapersiftError
from papersift.records import parse_arxiv_id, split_authors


@pytest.mark.parametrize("raw,expected", [
    ("2401.12345", ("2401.12345", None)),
    ("2401.12345v3", ("2401.12345", 3)),
    ("arXiv:2401.12345", ("2401.12345", None)),
    ("https://arxiv.org/abs/2401.12345v2", ("2401.12345", 2)),
    ("http://arxiv.org/pdf/2401.12345v1.pdf", ("2401.12345", 1)),
    ("https://arxiv.org/pdf/2401.12345", ("2401.12345", None)),
    ("https://arxiv.org/html/2401.12345v2#S3", ("2401.12345", 2)),
    ("https://huggingface.co/papers/2401.12345", ("2401.12345", None)),
    ("hf.co/papers/2401.12345", ("2401.12345", None)),
    ("https://www.alphaxiv.org/abs/2401.12345v2", ("2401.12345", 2)),
    ("https://www.alphaxiv.org/overview/2401.12345", ("2401.12345", None)),
    ("https://ar5iv.labs.arxiv.org/html/2401.12345", ("2401.12345", None)),
    ("https://papers.cool/arxiv/2401.12345", ("2401.12345", None)),
    ("  0704.0001 ", ("0704.0001", None)),
    ("1412.9999", ("1412.9999", None)),
    ("1501.00001", ("1501.00001", None)),
    ("hep-th/9901001v2", ("hep-th/9901001", 2)),
    ("math.GT/0309136", ("math.GT/0309136", None)),
])
def test_accepts_the_forms_users_paste(raw: str, expected: tuple) -> None:
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "2401.123", "1234", "arxiv.org/abs/", "2401.12345vX",
                                 "https://example.com/abs/2401.12345", "<script>",
                                 "https://huggingface.co/2401.12345",
                                 "2401.1234", "1412.12345", "2413.12345", "2401.00000"])
def test_rejects_invalid_ids_with_the_expected_form(raw: str) -> None:
    with pytest.raises(PapersiftError, match="invalid arXiv id .*use a form like 2401.12345"):
        parse_arxiv_id(raw)


def test_split_authors() -> None:
    assert split_authors("A. One, B. Two and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("Ann Lee (MIT), Bo Chen") == ["Ann Lee", "Bo Chen"]
    assert split_authors("") == []
