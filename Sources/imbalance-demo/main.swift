import ImbalanceDemoKit

let args = CommandLine.arguments
let epochs = Int(args.count > 1 ? args[1] : "300")!
let lr = Double(args.count > 2 ? args[2] : "0.05")!
let scale = Double(args.count > 3 ? args[3] : "0.5")!
let bs = Int(args.count > 4 ? args[4] : "0")!
let s = TrainingSettings(epochs: epochs, learningRate: lr, batchSize: bs == 0 ? nil : bs, shuffleSeed: 7)
var g = SplitMix64(seed: 1)
let train = Dataset.gaussianPair(count: 10000, positiveRate: 0.05, using: &g)
let test = Dataset.gaussianPair(count: 100000, positiveRate: 0.05, using: &g)
let bayes = GaussianPairBayes(positiveRate: 0.05)
print("bayes", bayes.balancedError, bayes.bestF1)
let r = try runBinaryComparison(train: train, test: test, settings: s)
for x in r { print(x.name, x.scores, Array(x.model.parameters)) }
var means: [[Double]] = []
for _ in 0..<10 { means.append((0..<16).map { _ in scale * g.normal() }) }
let counts = Dataset.longTailCounts(classCount: 10, largest: 1000, imbalance: 100)
print(counts)
let mtrain = Dataset.gaussianClasses(means: means, counts: counts, using: &g)
let mtest = Dataset.gaussianClasses(means: means, counts: [Int](repeating: 1000, count: 10), using: &g)
let m = try runMulticlassComparison(train: mtrain, test: mtest, settings: s)
for x in m { print(x.name, x.scores) }
