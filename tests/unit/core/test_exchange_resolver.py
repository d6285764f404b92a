import pytest
from vnpy.trader.constant import Exchange

from src.core.contract.exchange_resolver import (
    ExchangeResolver,
    UnknownProductError,
)
from src.core.config.errors import UserInputError


@pytest.fixture(scope="module")
def resolver() -> ExchangeResolver:
    return ExchangeResolver()


@pytest.mark.parametrize("product, exchange", [
    ("IF", Exchange.CFFEX), ("IH", Exchange.CFFEX), ("IC", Exchange.CFFEX), ("IM", Exchange.CFFEX),
    ("IO", Exchange.CFFEX), ("HO", Exchange.CFFEX), ("MO", Exchange.CFFEX), ("T", Exchange.CFFEX),
    ("TF", Exchange.CFFEX), ("TS", Exchange.CFFEX), ("TL", Exchange.CFFEX),
    ("rb", Exchange.SHFE), ("au", Exchange.SHFE), ("cu", Exchange.SHFE),
    ("m", Exchange.DCE), ("i", Exchange.DCE), ("lh", Exchange.DCE),
    ("SR", Exchange.CZCE), ("CF", Exchange.CZCE), ("MA", Exchange.CZCE),
    ("sc", Exchange.INE), ("ec", Exchange.INE), ("si", Exchange.GFEX), ("lc", Exchange.GFEX),
])
def test_each_product_resolves_to_its_exchange(resolver, product, exchange):
    assert resolver.resolve(product) is exchange


@pytest.mark.parametrize("written, normalized", [("if", "IF"), ("Io", "IO"), ("RB", "rb"), ("sr", "SR"),
                                                 ("M", "m"), (" SC ", "sc"), ("Si", "si")])
def test_lookups_ignore_case_and_normalize_to_the_exchange_convention(resolver, written, normalized):
    assert resolver.normalize(written) == normalized
    assert resolver.resolve(written) is resolver.resolve(normalized)


@pytest.mark.parametrize("product", ["XX", "IZ", "", "   ", 42, None])
def test_unknown_product_is_a_user_input_error_naming_it(resolver, product):
    with pytest.raises(UnknownProductError) as caught:
        resolver.resolve(product)
    assert isinstance(caught.value, UserInputError)
    assert repr(product) in str(caught.value)
    assert caught.value.product == product


def test_option_and_future_products_map_both_ways(resolver):
    assert resolver.future_product_of_option("IO") == "IF"
    assert resolver.future_product_of_option("mo") == "IM"
    assert resolver.future_product_of_option("HO") == "IH"
    assert resolver.future_product_of_option("au") == "au"  # commodity options share the future's code
    assert resolver.option_products_of("IF") == ("IO",)
    assert resolver.option_products_of("im") == ("MO",)
    assert resolver.option_products_of("IC") == ()
    assert resolver.is_index_option_product("IO") and not resolver.is_index_option_product("IF")


def test_vt_symbol_from_a_symbol(resolver):
    assert resolver.vt_symbol("IF2601") == "IF2601.CFFEX"
    assert resolver.vt_symbol("IO2601-C-4000") == "IO2601-C-4000.CFFEX"
    assert resolver.vt_symbol("SR605C5000") == "SR605C5000.CZCE"
    with pytest.raises(UnknownProductError):
        resolver.vt_symbol("ZZ2601")


def test_products_lists_per_exchange(resolver):
    assert set(resolver.products(Exchange.CFFEX)) == {"IF", "IH", "IC", "IM", "IO", "HO", "MO", "T", "TF", "TS", "TL"}
    assert "rb" in resolver.products(Exchange.SHFE)
    assert resolver.knows("rb") and not resolver.knows("XX")


def test_a_table_with_a_product_on_two_exchanges_or_in_the_wrong_case_is_rejected():
    with pytest.raises(ValueError, match="listed on both"):
        ExchangeResolver({Exchange.SHFE: ("cu",), Exchange.DCE: ("cu",)})
    with pytest.raises(ValueError, match="upper case"):
        ExchangeResolver({Exchange.CFFEX: ("if",)})
    with pytest.raises(ValueError, match="lower case"):
        ExchangeResolver({Exchange.SHFE: ("RB",)})
