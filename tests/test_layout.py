"""Guards on the test tree itself."""

from collections import Counter
from pathlib import Path


def test_test_module_names_are_unique():
    # pytest's default (prepend) import mode imports test modules by basename: two test files
    # with one name in different folders make the second fail to collect.
    names = Counter(path.name for path in Path(__file__).parent.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
