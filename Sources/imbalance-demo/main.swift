import ImbalanceDemoKit

Demo.main()
