import STUNCore
