"""Re-create the vendored samples in data/ from ../shared/data (run once by maintainers, not at run time)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
NAB_STREAMS = [
    "realKnownCause/nyc_taxi.csv",
    "realKnownCause/ec2_request_latency_system_failure.csv",
    "realKnownCause/ambient_temperature_system_failure.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "realTraffic/speed_7578.csv",
]
COINS = {"USDC": "USDC", "USDT": "USDT", "DAI": "Dai", "UST": "UST"}


def vendor(shared: Path) -> None:
    out = HERE / "stablecoin"
    out.mkdir(exist_ok=True)
    for symbol, stem in COINS.items():
        df = pd.read_csv(shared / "stablecoin" / "cmc_daily" / f"{stem}_cmc_daily.csv")
        df = df.drop(columns=["timestamp"]).rename(columns={"timeClose": "timestamp", "marketCap": "market_cap"})
        df = df[["timestamp", "open", "high", "low", "close", "volume", "market_cap"]]
        df = df.sort_values("timestamp").drop_duplicates("timestamp")
        df.to_csv(out / f"{symbol}_daily.csv", index=False, float_format="%.6g")
    shutil.copy(shared / "stablecoin" / "kraken_usdcusd_hourly_2023-03-08_17.csv", out)
    shutil.copy(shared / "stablecoin" / "coingecko_via_defillama_dai_usdc_usdt_hourly_2023-03-08_17.csv", out)

    credit = pd.read_csv(shared / "credit" / "uci_credit_default.csv")
    (HERE / "credit").mkdir(exist_ok=True)
    credit.sample(n=12000, random_state=7).sort_values("ID").to_csv(
        HERE / "credit" / "uci_credit_default_sample.csv", index=False
    )

    nab_out = HERE / "nab"
    windows = json.loads((shared / "nab" / "labels" / "combined_windows.json").read_text())
    for rel in NAB_STREAMS:
        dest = nab_out / "data" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared / "nab" / "data" / rel, dest)
    (nab_out / "labels").mkdir(parents=True, exist_ok=True)
    subset = {rel: windows[rel] for rel in NAB_STREAMS}
    (nab_out / "labels" / "combined_windows.json").write_text(json.dumps(subset, indent=1) + "\n")
    shutil.copy(shared / "nab" / "LICENSE.txt", nab_out / "LICENSE.txt")


if __name__ == "__main__":
    vendor(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "data")
