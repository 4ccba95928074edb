#include "sim/universe.h"

#include <iterator>

namespace orderly::sim {
namespace {

constexpr ListedSymbol kUniverse[] = {
    {"AAPL", "230.00", "NASDAQ", "Apple Inc. Common Stock"},
    {"AMD", "150.00", "NASDAQ", "Advanced Micro Devices, Inc. Common Stock"},
    {"AMZN", "185.00", "NASDAQ", "Amazon.com, Inc. Common Stock"},
    {"BAC", "40.00", "NYSE", "Bank of America Corporation Common Stock"},
    {"CVX", "150.00", "NYSE", "Chevron Corporation Common Stock"},
    {"DIS", "95.00", "NYSE", "Walt Disney Company (The) Common Stock"},
    {"EPD", "29.50", "NYSE", "Enterprise Products Partners L.P. Common Stock"},
    {"ET", "16.00", "NYSE", "Energy Transfer LP Common Units"},
    {"F", "10.50", "NYSE", "Ford Motor Company Common Stock"},
    {"GOOGL", "165.00", "NASDAQ", "Alphabet Inc. Class A Common Stock"},
    {"HOOD", "25.00", "NASDAQ", "Robinhood Markets, Inc. Class A Common Stock"},
    {"INTC", "22.50", "NASDAQ", "Intel Corporation Common Stock"},
    {"IWM", "220.00", "ARCA", "iShares Russell 2000 ETF"},
    {"JPM", "210.00", "NYSE", "JP Morgan Chase & Co. Common Stock"},
    {"KO", "70.00", "NYSE", "Coca-Cola Company (The) Common Stock"},
    {"META", "560.00", "NASDAQ", "Meta Platforms, Inc. Class A Common Stock"},
    {"MSFT", "420.00", "NASDAQ", "Microsoft Corporation Common Stock"},
    {"NFLX", "700.00", "NASDAQ", "Netflix, Inc. Common Stock"},
    {"NVDA", "120.00", "NASDAQ", "NVIDIA Corporation Common Stock"},
    {"OKE", "92.50", "NYSE", "ONEOK, Inc. Common Stock"},
    {"PEP", "170.00", "NASDAQ", "PepsiCo, Inc. Common Stock"},
    {"PFE", "28.00", "NYSE", "Pfizer, Inc. Common Stock"},
    {"PLTR", "40.00", "NASDAQ", "Palantir Technologies Inc. Class A Common Stock"},
    {"QQQ", "480.00", "NASDAQ", "Invesco QQQ Trust, Series 1"},
    {"SOFI", "10.00", "NASDAQ", "SoFi Technologies, Inc. Common Stock"},
    {"SPY", "560.00", "ARCA", "SPDR S&P 500 ETF Trust"},
    {"STWD", "20.00", "NYSE", "Starwood Property Trust, Inc. Common Stock"},
    {"T", "22.00", "NYSE", "AT&T Inc."},
    {"TSLA", "250.00", "NASDAQ", "Tesla, Inc. Common Stock"},
    {"VZ", "42.00", "NYSE", "Verizon Communications Inc. Common Stock"},
    {"WMT", "80.00", "NYSE", "Walmart Inc. Common Stock"},
    {"XOM", "115.00", "NYSE", "Exxon Mobil Corporation Common Stock"},
};

constexpr ListedSymbol kCrypto[] = {
    {"BTC/USD", "60000.00", "CRYPTO", "Bitcoin  / US Dollar"},
    {"ETH/USD", "3000.00", "CRYPTO", "Ethereum  / US Dollar"},
    {"SOL/USD", "150.00", "CRYPTO", "Solana  / US Dollar"},
};

// Minimums of a few dollars of each coin, quantities to Alpaca's nine decimals. The price
// increment is the cent here; a coarser one (Alpaca's docs show "price_increment": "1" for
// BTC/USD in an older example) is set per pair by SimConfig::crypto_price_increments (`orderly
// sim --price-increment BTC/USD=1`), which orderly's percent exits follow (core/trade.h).
constexpr CryptoSizes kCryptoSizes[] = {
    {"BTC/USD", "0.0001", "0.000000001", "0.01"},
    {"ETH/USD", "0.001", "0.000000001", "0.01"},
    {"SOL/USD", "0.01", "0.000000001", "0.01"},
};
static_assert(std::size(kCryptoSizes) == std::size(kCrypto));

}  // namespace

std::span<const ListedSymbol> builtin_universe() { return kUniverse; }
std::span<const ListedSymbol> builtin_crypto() { return kCrypto; }
std::span<const CryptoSizes> builtin_crypto_sizes() { return kCryptoSizes; }

}  // namespace orderly::sim
