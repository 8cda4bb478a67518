print("pushwave-load")
