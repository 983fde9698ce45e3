/// The reference scenario: a technology company's AI ecosystem programme in Japan, one
/// write command per line, every fact with its business date (so loading it twice, on any
/// day, appends nothing the second time).
enum DemoScenario {
    static let lines: [String] = [
        // Startups
        #"{"command":"startup.register","startup":"sakana-ai","name":"Sakana AI","sector":"foundation models","country":"JP","date":"2026-01-12"}"#,
        #"{"command":"startup.register","startup":"elyza","name":"ELYZA","sector":"Japanese LLMs","country":"JP","date":"2026-01-12"}"#,
        #"{"command":"startup.register","startup":"kotoba-tech","name":"Kotoba Technologies","sector":"speech AI","country":"JP","date":"2026-01-19"}"#,
        #"{"command":"startup.register","startup":"tsukuba-robotics","name":"Tsukuba Robotics","sector":"embodied AI","country":"JP","date":"2026-01-26"}"#,
        // Investments: different rounds, instruments and currencies
        #"{"command":"invest.commit","investment":"sakana-series-a","startup":"sakana-ai","round":"series-a","instrument":"equity","amount":"1500000000","currency":"JPY","ownership":"3.5","post-money":"42000000000","date":"2026-02-02"}"#,
        #"{"command":"invest.commit","investment":"elyza-seed","startup":"elyza","round":"seed","instrument":"safe","amount":"2000000.00","currency":"USD","date":"2026-02-09"}"#,
        #"{"command":"invest.commit","investment":"kotoba-pre-a","startup":"kotoba-tech","round":"pre-series-a","instrument":"note","amount":"300000000","currency":"JPY","date":"2026-02-16"}"#,
        #"{"command":"invest.commit","investment":"tsukuba-seed","startup":"tsukuba-robotics","round":"seed","instrument":"note","amount":"150000000","currency":"JPY","date":"2026-02-16"}"#,
        #"{"command":"invest.disburse","investment":"sakana-series-a","amount":"750000000","currency":"JPY","date":"2026-02-20"}"#,
        #"{"command":"invest.disburse","investment":"sakana-series-a","amount":"750000000","currency":"JPY","date":"2026-05-20"}"#,
        #"{"command":"invest.disburse","investment":"elyza-seed","amount":"1200000.00","currency":"USD","date":"2026-02-27"}"#,
        #"{"command":"invest.disburse","investment":"kotoba-pre-a","amount":"200000000","currency":"JPY","date":"2026-03-02"}"#,
        #"{"command":"invest.disburse","investment":"tsukuba-seed","amount":"150000000","currency":"JPY","date":"2026-03-02"}"#,
        #"{"command":"invest.mark","investment":"sakana-series-a","fair-value":"2100000000","currency":"JPY","date":"2026-06-30"}"#,
        #"{"command":"invest.mark","investment":"kotoba-pre-a","fair-value":"260000000","currency":"JPY","date":"2026-06-30"}"#,
        #"{"command":"invest.exit","investment":"elyza-seed","proceeds":"3400000.00","currency":"USD","date":"2026-09-15"}"#,
        #"{"command":"invest.write-off","investment":"tsukuba-seed","reason":"wound down after failing to raise a series A","date":"2026-10-01"}"#,
        // The Tokyo AI research lab
        #"{"command":"lab.plan","lab":"tokyo-ai-lab","name":"Tokyo AI Research Lab","city":"Tokyo","budget":"2000000000","currency":"JPY","date":"2026-01-15"}"#,
        #"{"command":"lab.add-partner","lab":"tokyo-ai-lab","partner":"RIKEN Center for Advanced Intelligence Project","date":"2026-01-20"}"#,
        #"{"command":"lab.add-partner","lab":"tokyo-ai-lab","partner":"The University of Tokyo","date":"2026-01-20"}"#,
        #"{"command":"lab.add-partner","lab":"tokyo-ai-lab","partner":"Institute of Science Tokyo","date":"2026-02-03"}"#,
        #"{"command":"lab.add-partner","lab":"tokyo-ai-lab","partner":"Sakura Internet","date":"2026-02-03"}"#,
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"facility","amount":"450000000","currency":"JPY","description":"Otemachi floor lease and fit-out","date":"2026-02-10"}"#,
        #"{"command":"lab.milestone","lab":"tokyo-ai-lab","name":"lease signed","date":"2026-02-10"}"#,
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"equipment","amount":"620000000","currency":"JPY","description":"racks, networking, cooling","date":"2026-03-05"}"#,
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"staff","amount":"380000000","currency":"JPY","description":"founding research team, first year","date":"2026-04-01"}"#,
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"compute","amount":"500000000","currency":"JPY","description":"H100 cluster, first tranche","date":"2026-04-15"}"#,
        #"{"command":"lab.raise-budget","lab":"tokyo-ai-lab","amount":"500000000","currency":"JPY","reason":"second GPU hall approved by the board","date":"2026-05-01"}"#,
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"compute","amount":"300000000","currency":"JPY","description":"H200 nodes for the second hall","date":"2026-05-20"}"#,
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"other","amount":"25000000","currency":"JPY","description":"opening symposium","date":"2026-06-01"}"#,
        #"{"command":"lab.milestone","lab":"tokyo-ai-lab","name":"first cluster online","date":"2026-05-28"}"#,
        #"{"command":"lab.open","lab":"tokyo-ai-lab","date":"2026-06-01"}"#,
        // GPU stock, scarce
        #"{"command":"supply.receive","sku":"h100-sxm5-80gb","quantity":256,"date":"2026-03-01"}"#,
        #"{"command":"supply.receive","sku":"h200-sxm-141gb","quantity":64,"date":"2026-04-01"}"#,
        #"{"command":"supply.receive","sku":"h100-sxm5-80gb","quantity":128,"date":"2026-05-01"}"#,
        // Orders from Japanese customers
        #"{"command":"order.place","order":"softbank-001","customer":"SoftBank","sku":"h100-sxm5-80gb","quantity":128,"unit-price":"4800000","currency":"JPY","date":"2026-03-03"}"#,
        #"{"command":"order.place","order":"nec-001","customer":"NEC","sku":"h100-sxm5-80gb","quantity":64,"unit-price":"4800000","currency":"JPY","date":"2026-03-04"}"#,
        #"{"command":"order.place","order":"ntt-001","customer":"NTT","sku":"h200-sxm-141gb","quantity":48,"unit-price":"6200000","currency":"JPY","date":"2026-04-02"}"#,
        #"{"command":"order.place","order":"sakura-001","customer":"Sakura Internet","sku":"h100-sxm5-80gb","quantity":240,"unit-price":"4650000","currency":"JPY","date":"2026-04-10"}"#,
        #"{"command":"order.place","order":"mitsui-001","customer":"Mitsui & Co.","sku":"h200-sxm-141gb","quantity":32,"unit-price":"6200000","currency":"JPY","date":"2026-04-12"}"#,
        #"{"command":"order.allocate","order":"softbank-001","quantity":128,"date":"2026-03-05"}"#,
        #"{"command":"order.allocate","order":"nec-001","quantity":64,"date":"2026-03-05"}"#,
        #"{"command":"order.allocate","order":"ntt-001","quantity":48,"date":"2026-04-03"}"#,
        #"{"command":"order.allocate","order":"mitsui-001","quantity":16,"date":"2026-04-13"}"#,
        #"{"command":"order.allocate","order":"sakura-001","quantity":160,"date":"2026-05-02"}"#,
        #"{"command":"order.ship","order":"softbank-001","shipment":"sb-001-a","quantity":64,"date":"2026-03-10"}"#,
        #"{"command":"order.deliver","order":"softbank-001","shipment":"sb-001-a","date":"2026-03-12"}"#,
        #"{"command":"order.ship","order":"softbank-001","shipment":"sb-001-b","quantity":64,"date":"2026-03-24"}"#,
        #"{"command":"order.deliver","order":"softbank-001","shipment":"sb-001-b","date":"2026-03-26"}"#,
        #"{"command":"order.ship","order":"nec-001","shipment":"nec-001-a","quantity":32,"date":"2026-03-20"}"#,
        #"{"command":"order.deliver","order":"nec-001","shipment":"nec-001-a","date":"2026-03-23"}"#,
        #"{"command":"order.ship","order":"ntt-001","shipment":"ntt-001-a","quantity":48,"date":"2026-04-08"}"#,
        #"{"command":"order.ship","order":"sakura-001","shipment":"sakura-001-a","quantity":100,"date":"2026-05-08"}"#,
        #"{"command":"order.invoice","order":"softbank-001","amount":"614400000","currency":"JPY","date":"2026-03-31"}"#,
        #"{"command":"order.pay","order":"softbank-001","amount":"400000000","currency":"JPY","date":"2026-04-30"}"#,
        #"{"command":"order.invoice","order":"nec-001","amount":"153600000","currency":"JPY","date":"2026-03-31"}"#,
        #"{"command":"order.invoice","order":"ntt-001","amount":"297600000","currency":"JPY","date":"2026-04-30"}"#,
        #"{"command":"order.pay","order":"ntt-001","amount":"297600000","currency":"JPY","date":"2026-05-29"}"#,
        #"{"command":"order.invoice","order":"sakura-001","amount":"465000000","currency":"JPY","date":"2026-05-15"}"#,
        #"{"command":"order.cancel","order":"mitsui-001","reason":"customer moved the project to 2027","date":"2026-05-06"}"#,
        // A mistake: September's GPU cloud credits booked under equipment (corrected below).
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"equipment","amount":"45000000","currency":"JPY","description":"\#(mistakenExpense)","date":"2026-09-14"}"#,
        // USD/JPY rates, so the fund report can be read in yen (before the Q3 close).
        #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"156.82","source":"MUFG TTM","date":"2026-01-05"}"#,
        #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"150.12","source":"MUFG TTM","date":"2026-02-27"}"#,
        #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"144.35","source":"MUFG TTM","date":"2026-06-30"}"#,
        #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"147.8","source":"MUFG TTM","date":"2026-09-15"}"#,
        #"{"command":"fx.rate","base":"USD","quote":"JPY","rate":"153.4","source":"MUFG TTM","date":"2026-11-02"}"#,
    ]

    /// The description of the expense booked under the wrong category.
    static let mistakenExpense = "GPU cloud credits, September"

    /// The correction, once the mistaken expense is reversed (`ledger reverse`, which names
    /// it by position): the same expense under compute; then the quarter is closed.
    static let afterCorrection: [String] = [
        #"{"command":"lab.expense","lab":"tokyo-ai-lab","category":"compute","amount":"45000000","currency":"JPY","description":"\#(mistakenExpense)","date":"2026-09-18"}"#,
        #"{"command":"period.close","through":"2026-09-30","reason":"Q3 2026 reported to the investment committee"}"#,
    ]
}
