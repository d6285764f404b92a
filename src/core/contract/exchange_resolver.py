"""Product code -> exchange, and the option product <-> futures product map.

Each exchange spells its product codes in one case: CFFEX and CZCE upper
(``IF``, ``SR``), SHFE, DCE, INE and GFEX lower (``rb``, ``m``, ``sc``, ``si``).
Lookups accept any case and ``normalize`` returns the exchange's spelling; no
two listed products differ only in case, which the table checks when built.
Options of commodity futures share their future's product code (``au`` options
on ``au`` futures); CFFEX index options have their own (IO on IF, MO on IM,
HO on IH).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from vnpy.trader.constant import Exchange

from src.core.config.errors import UserInputError
from src.strategy.domain.value_object.trading_session import product_code
from src.core.contract.contract_helper import INDEX_OPTION_FUTURES

# Listed products (2024-2025), futures codes; commodity options use the same codes.
DEFAULT_PRODUCTS: Mapping[Exchange, tuple[str, ...]] = {
    Exchange.CFFEX: ("IF", "IH", "IC", "IM", "IO", "HO", "MO", "T", "TF", "TS", "TL"),
    Exchange.SHFE: ("cu", "al", "zn", "pb", "ni", "sn", "au", "ag", "rb", "wr", "hc", "ss",
                    "bu", "ru", "fu", "sp", "ao", "br"),
    Exchange.INE: ("sc", "lu", "nr", "bc", "ec"),
    Exchange.DCE: ("a", "b", "m", "y", "p", "c", "cs", "rr", "i", "j", "jm", "l", "v", "pp",
                   "eg", "eb", "pg", "jd", "lh", "bb", "fb", "lg"),
    Exchange.CZCE: ("CF", "CY", "SR", "RM", "OI", "TA", "MA", "FG", "ZC", "SA", "PF", "PX",
                    "SH", "PR", "AP", "CJ", "UR", "SF", "SM", "PK", "WH", "PM", "RI", "RS",
                    "JR", "LR"),
    Exchange.GFEX: ("si", "lc", "ps"),
}

_UPPER_CASE_EXCHANGES = (Exchange.CFFEX, Exchange.CZCE)


class UnknownProductError(UserInputError):
    """A product code that no configured exchange lists."""

    def __init__(self, product: object, detail: str = "") -> None:
        self.product = product
        message = f"unknown product {product!r}: not listed on CFFEX, SHFE, INE, DCE, CZCE or GFEX"
        super().__init__(f"{message} ({detail})" if detail else message)


class UnsupportedProductError(UserInputError):
    """A known product for which the backtester lacks a rule (listing, expiry, specs)."""


class ExchangeResolver:
    """Finds the exchange of a product code (``IF`` -> CFFEX, ``rb`` -> SHFE)."""

    def __init__(self, products: Mapping[Exchange, Iterable[str]] | None = None) -> None:
        table: dict[str, tuple[str, Exchange]] = {}
        for exchange, codes in (DEFAULT_PRODUCTS if products is None else products).items():
            for code in codes:
                expected = code.upper() if exchange in _UPPER_CASE_EXCHANGES else code.lower()
                if not code.isalpha() or code != expected:
                    raise ValueError(f"{exchange.value} product code {code!r} must be letters in "
                                     f"{'upper' if exchange in _UPPER_CASE_EXCHANGES else 'lower'} case")
                key = code.upper()
                if key in table:
                    raise ValueError(f"product {code!r} is listed on both {table[key][1].value} and "
                                     f"{exchange.value} (codes are matched regardless of case)")
                table[key] = (code, exchange)
        self._table = table

    def resolve(self, product: str) -> Exchange:
        return self._entry(product)[1]

    def normalize(self, product: str) -> str:
        """The product code in its exchange's case (``if`` -> ``IF``, ``RB`` -> ``rb``)."""
        return self._entry(product)[0]

    def knows(self, product: str) -> bool:
        return isinstance(product, str) and product.strip().upper() in self._table

    def products(self, exchange: Exchange | None = None) -> tuple[str, ...]:
        return tuple(code for code, listed_on in self._table.values()
                     if exchange is None or listed_on is exchange)

    def vt_symbol(self, symbol: str) -> str:
        """``IF2601`` -> ``IF2601.CFFEX`` (the product is the symbol's leading letters)."""
        if not isinstance(symbol, str):
            raise UnknownProductError(symbol, "a symbol must be text such as IF2601")
        return f"{symbol}.{self.resolve(product_code(symbol)).value}"

    def future_product_of_option(self, option_product: str) -> str:
        """The futures product an option product is priced on (IO -> IF; au -> au)."""
        code = self.normalize(option_product)
        return INDEX_OPTION_FUTURES.get(code, code)

    def option_products_of(self, future_product: str) -> tuple[str, ...]:
        """The CFFEX index option products on a futures product (IF -> (IO,)); empty for others."""
        code = self.normalize(future_product)
        return tuple(option for option, future in INDEX_OPTION_FUTURES.items()
                     if future == code and self.knows(option))

    def is_index_option_product(self, product: str) -> bool:
        return self.normalize(product) in INDEX_OPTION_FUTURES

    def _entry(self, product: str) -> tuple[str, Exchange]:
        if not isinstance(product, str) or not product.strip():
            raise UnknownProductError(product, "a product code is letters, e.g. IF or rb")
        entry = self._table.get(product.strip().upper())
        if entry is None:
            raise UnknownProductError(product)
        return entry

