"""Size and fit: predict small / fit / large and recommend a size, using customer, product and
review text (Misra et al., RecSys 2018; reviews as in SIGIR eCom 2022). See docs/sizefit.md."""

from product.sizefit.evaluate import evaluate_recommender, fit_metrics
from product.sizefit.recommend import Customer, Product, SizeOption, SizeRecommendation, SizeRecommender
from product.sizefit.records import (
    FIT_LABELS,
    ReadResult,
    RecordError,
    read_fit_file,
    read_modcloth,
    read_renttherunway,
)
from product.sizefit.split import split_by_customer_time
from product.sizefit.synthetic import SyntheticFitData, generate_fit_data
from product.sizefit.train import SizeFitConfig, train_size_fit

__all__ = [
    "FIT_LABELS",
    "Customer",
    "Product",
    "ReadResult",
    "RecordError",
    "SizeFitConfig",
    "SizeOption",
    "SizeRecommendation",
    "SizeRecommender",
    "SyntheticFitData",
    "evaluate_recommender",
    "fit_metrics",
    "generate_fit_data",
    "read_fit_file",
    "read_modcloth",
    "read_renttherunway",
    "split_by_customer_time",
    "train_size_fit",
]
