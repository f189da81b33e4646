// `swift run -c release imbalance-demo --help`: the demo's logic lives in
// ImbalanceDemoKit, where the tests can reach it.
import ImbalanceDemoKit

Demo.main()
